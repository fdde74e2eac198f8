#include "sbc/b2bua/registration.hpp"
#include "sbc/sofia/auth_headers.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <vector>

namespace sbc::b2bua {

namespace {

// How long to wait after a failure before the next try. Wrong credentials
// will not fix themselves quickly; a retry every minute is enough to notice
// when the carrier's side is corrected, without looking like an attack.
constexpr std::chrono::seconds retry_after_failure{30};
constexpr std::chrono::seconds retry_after_auth_failure{60};
constexpr std::chrono::seconds max_retry_after{3600};
// A registrar that challenges every answer with stale=true, or keeps raising
// Min-Expires, must not keep us sending REGISTERs back to back.
constexpr unsigned max_challenges = 3;
// Min-Expires above a day is not a registration interval any carrier means.
constexpr unsigned long max_min_expires = 86400;

// "401 Unauthorized": the standard reason phrase where there is one, so
// that the status (shown by sbcctl) does not carry whatever text a peer sent;
// otherwise the peer's, printable ASCII only and shortened.
std::string status_text(int code, const sip_t* sip) {
    if (const char* phrase = sip_status_phrase(code)) {
        return fmt::format("{} {}", code, phrase);
    }
    std::string phrase;
    if (sip != nullptr && sip->sip_status != nullptr && sip->sip_status->st_phrase != nullptr) {
        for (const char* c = sip->sip_status->st_phrase; *c != '\0' && phrase.size() < 64; ++c) {
            if (*c >= 0x20 && *c < 0x7f) {
                phrase += *c;
            }
        }
    }
    return phrase.empty() ? std::to_string(code) : fmt::format("{} {}", code, phrase);
}

}  // namespace

std::chrono::milliseconds refresh_delay(std::chrono::seconds granted) noexcept {
    using std::chrono::milliseconds;
    const milliseconds whole = granted;
    const milliseconds half = whole / 2;
    // From 10 s on, half-way is at least 5 s before the end.
    const milliseconds delay =
        granted > std::chrono::seconds(5) ? std::min(half, whole - std::chrono::seconds(5)) : half;
    return std::max(delay, milliseconds(500));
}

registration::registration(su_root_t* root, nta_agent_t* agent, const config::trunk_config& trunk,
                           std::string registrar_uri, std::string contact, call_tally* tally)
    : _trunk(trunk.name),
      _tally(tally),
      _registrar_uri(std::move(registrar_uri)),
      _contact(std::move(contact)),
      _asked(trunk.registration ? trunk.registration->expires : 0),
      _home(static_cast<su_home_t*>(su_home_new(sizeof(su_home_t)))) {
    if (!trunk.registration) {
        throw std::invalid_argument(fmt::format("trunk {} has no register key", trunk.name));
    }
    _aor = fmt::format("<{}>", trunk.registration->aor);
    if (trunk.auth) {
        _credentials = auth::credentials{trunk.auth->username, trunk.auth->password};
    }
    if (!_home) {
        throw std::runtime_error("registration: out of memory");
    }
    _our_contact = sip_contact_make(_home.get(), _contact.c_str());
    if (_our_contact == nullptr) {
        throw std::runtime_error(
            fmt::format("trunk {}: cannot parse the Contact '{}'", _trunk, _contact));
    }
    // The timer's own interval is never used: each arming gives its delay.
    _timer.reset(su_timer_create(su_root_task(root), 1000));
    if (!_timer) {
        throw std::runtime_error(fmt::format("trunk {}: cannot create a timer", _trunk));
    }
    // One leg for the life of the registration: one Call-ID, one From tag,
    // and the CSeq nta counts up on it (RFC 3261 10.2.4: a UA SHOULD use the
    // same Call-ID for all registrations during a boot cycle). No request
    // callback: nothing is expected on it; nta's default handler answers it.
    _leg.reset(nta_leg_tcreate(agent, nullptr, nullptr, SIPTAG_FROM_STR(_aor.c_str()),
                               SIPTAG_TO_STR(_aor.c_str()), TAG_END()));
    if (!_leg || nta_leg_tag(_leg.get(), nullptr) == nullptr) {
        throw std::runtime_error(fmt::format("trunk {}: cannot create a leg for {}", _trunk, _aor));
    }
}

registration::~registration() = default;

void registration::start() {
    if (_started) {
        return;
    }
    _started = true;
    _status.state = "registering";
    sip_log.info("trunk {}: registering {} at {}", _trunk, _aor, _registrar_uri);
    send(false);
}

void registration::unregister() {
    if (!_started || _unregistering) {
        return;
    }
    _unregistering = true;
    su_timer_reset(_timer.get());
    // A REGISTER still in flight may yet create the binding; the Expires: 0
    // that follows it (the next CSeq) removes it either way.
    _orq.reset();
    _challenges = 0;
    sip_log.info("trunk {}: unregistering {} at {}", _trunk, _aor, _registrar_uri);
    send(false);
}

void registration::send(bool answering) {
    _answering = answering;
    const auto expires = std::to_string(_unregistering ? 0U : _asked);
    std::string credentials;
    if (_challenge && _credentials) {
        // RFC 7616 3.4: a fresh cnonce each time, nc counting the requests
        // sent with this nonce; the digest-uri is the Request-URI as sent.
        std::string cnonce;
        try {
            cnonce = auth::make_cnonce();
        } catch (const std::exception& e) {
            // Only a broken random generator gets here; never send a
            // predictable cnonce instead.
            fail(fmt::format("cannot make a cnonce: {}", e.what()), retry_after_auth_failure);
            return;
        }
        credentials = auth::authorization_value(*_challenge, *_credentials,
                                                {"REGISTER", _registrar_uri, ""}, ++_nc, cnonce);
        if (credentials.empty()) {
            fail(fmt::format("cannot compute the {} digest", auth::to_string(_challenge->algo)),
                 retry_after_auth_failure);
            return;
        }
    }
    const bool www = !credentials.empty() && !_proxy;
    const bool proxy = !credentials.empty() && _proxy;
    _in_send = true;
    _sync_status = 0;
    nta_outgoing_t* orq = nta_outgoing_tcreate(
        _leg.get(), sofia::response_trampoline, this, nullptr, SIP_METHOD_REGISTER,
        URL_STRING_MAKE(_registrar_uri.c_str()), SIPTAG_CONTACT_STR(_contact.c_str()),
        SIPTAG_EXPIRES_STR(expires.c_str()),
        TAG_IF(www, SIPTAG_AUTHORIZATION_STR(credentials.c_str())),
        TAG_IF(proxy, SIPTAG_PROXY_AUTHORIZATION_STR(credentials.c_str())), TAG_END());
    _in_send = false;
    if (orq == nullptr) {
        fail("503 cannot send", retry_after_failure);
        return;
    }
    _orq.reset(orq);
    if (_sync_status >= 200) {
        // nta failed the request before tcreate returned (no transport to
        // the registrar): handled here, where _orq is known.
        const int code = _sync_status;
        _orq.reset();
        fail(code == 408 ? std::string("408 no answer") : fmt::format("{} transport error", code),
             retry_after_failure);
    }
}

int registration::on_response(nta_outgoing_t* orq, const sip_t* sip) {
    const int code = sip != nullptr && sip->sip_status != nullptr ? sip->sip_status->st_status
                                                                  : nta_outgoing_status(orq);
    if (code < 200) {
        return 0;
    }
    if (_in_send) {
        _sync_status = code;
        return 0;
    }
    if (orq != _orq.get()) {
        return 0;
    }
    // Done with the transaction, but `sip` lives in its response: release it
    // when this returns, after a new REGISTER may have taken _orq's place.
    const auto done = std::move(_orq);
    // nta's own 408 (timer F) and 503 (transport error) are no peer's words.
    const bool local = sip == nullptr || nta_sip_is_internal(sip);
    if (local) {
        fail(code == 408 ? std::string("408 no answer") : fmt::format("{} transport error", code),
             retry_after_failure);
    } else if (code < 300) {
        on_success(code, sip);
    } else if (code == 401 || code == 407) {
        on_challenge(code, sip);
    } else if (code == 423 && !_unregistering) {
        on_too_brief(code, sip);
    } else {
        // RFC 3261 21.5.4/20.33: a 503 (or any failure) may say when to try again.
        auto retry = retry_after_failure;
        if (sip->sip_retry_after != nullptr) {
            retry = std::clamp(std::chrono::seconds(sip->sip_retry_after->af_delta),
                               std::chrono::seconds(1), max_retry_after);
        }
        fail(status_text(code, sip), retry);
    }
    return 0;
}

void registration::on_success(int code, const sip_t* sip) {
    _challenges = 0;
    if (_unregistering) {
        _status.state = "unregistered";
        _status.last_result = status_text(code, sip);
        _status.expires_at.reset();
        sip_log.info("trunk {}: unregistered {} ({})", _trunk, _aor, _status.last_result);
        return;
    }
    // RFC 3261 10.2.4: the 2xx lists every binding of the AOR; ours is the
    // one whose URI equals our Contact's (sofia's url_cmp: scheme, user,
    // host, port), and its expires parameter (or else the Expires header) is
    // what the registrar granted.
    const sip_contact_t* ours = nullptr;
    for (const sip_contact_t* m = sip->sip_contact; m != nullptr; m = m->m_next) {
        if (url_cmp(m->m_url, _our_contact->m_url) == 0) {
            ours = m;
            break;
        }
    }
    unsigned long granted = _asked;
    if (ours != nullptr || sip->sip_expires != nullptr) {
        granted = sip_contact_expires(ours, sip->sip_expires, sip->sip_date, _asked, 0);
    }
    if (granted == 0) {
        fail(status_text(code, sip) + " (without our binding)", retry_after_failure);
        return;
    }
    // RFC 3261 10.2.1.1: a registrar may choose less than asked. More is
    // taken as what was asked: refreshing early is harmless, late is not.
    granted = std::min(granted, static_cast<unsigned long>(_asked));
    const bool was_registered = _status.state == "registered";
    _status.state = "registered";
    _status.last_result = status_text(code, sip);
    _status.expires_at = std::chrono::system_clock::now() + std::chrono::seconds(granted);
    _status.failures = 0;
    const auto delay = refresh_delay(std::chrono::seconds(granted));
    if (was_registered) {
        sip_log.debug("trunk {}: registration of {} refreshed for {} s", _trunk, _aor, granted);
    } else {
        sip_log.info("trunk {}: registered {} at {} for {} s", _trunk, _aor, _registrar_uri,
                     granted);
    }
    schedule(delay);
}

void registration::on_challenge(int code, const sip_t* sip) {
    const auto result = status_text(code, sip);
    if (!_credentials) {
        auth_failed(result + " (no auth credentials on this trunk)", "no_credentials");
        return;
    }
    auto challenge = auth::choose_challenge(sofia::challenge_values(code, sip));
    if (!challenge) {
        auth_failed(result + " (no digest challenge the SBC can answer)", "unsupported_challenge");
        return;
    }
    // RFC 7616 3.3 / RFC 3261 22.2: a challenge to an answer means the
    // credentials were refused, unless it only says the nonce went stale.
    if (_answering && !challenge->stale) {
        _challenge.reset();
        auth_failed(result + " (bad credentials)", "refused");
        return;
    }
    if (++_challenges > max_challenges) {
        _challenge.reset();
        auth_failed(result + " (challenged again and again)", "refused");
        return;
    }
    if (!_challenge || _challenge->nonce != challenge->nonce) {
        _nc = 0;
    }
    _challenge = std::move(*challenge);
    _proxy = code == 407;
    sip_log.debug("trunk {}: {} for {} (realm {}{}), answering", _trunk, result, _aor,
                  _challenge->realm, _challenge->stale ? ", stale nonce" : "");
    send(true);
}

void registration::auth_failed(std::string result, std::string_view reason) {
    if (_tally != nullptr) {
        _tally->count_digest_refusal(_trunk, false, reason);
    }
    fail(std::move(result), retry_after_auth_failure);
}

void registration::on_too_brief(int code, const sip_t* sip) {
    // RFC 3261 10.2.8: ask again with at least the registrar's Min-Expires.
    const unsigned long min = sip->sip_min_expires != nullptr ? sip->sip_min_expires->me_delta : 0;
    if (min <= _asked || min > max_min_expires || ++_challenges > max_challenges) {
        fail(fmt::format("{} (Min-Expires {} unusable)", status_text(code, sip), min),
             retry_after_failure);
        return;
    }
    if (_log_limit.allow()) {
        sip_log.info("trunk {}: registrar wants at least {} s for {} (asked {} s)", _trunk, min,
                     _aor, _asked);
    }
    _asked = static_cast<unsigned>(min);
    send(false);
}

void registration::fail(std::string result, std::chrono::seconds retry) {
    _status.state = "failed";
    _status.last_result = std::move(result);
    _status.expires_at.reset();
    ++_status.failures;
    // The next try starts afresh: no stale nonce, no answer to an old challenge.
    _challenge.reset();
    _challenges = 0;
    if (_unregistering) {
        sip_log.info("trunk {}: unregistering {} failed: {}", _trunk, _aor, _status.last_result);
        return;
    }
    if (_log_limit.allow()) {
        const auto suppressed = _log_limit.take_suppressed();
        sip_log.warn("trunk {}: registration of {} at {} failed: {}; retrying in {} s{}", _trunk,
                     _aor, _registrar_uri, _status.last_result, retry.count(),
                     suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", suppressed)
                                    : std::string());
    }
    schedule(retry);
}

void registration::schedule(std::chrono::milliseconds delay) {
    su_timer_reset(_timer.get());
    if (su_timer_set_interval(_timer.get(), timer_trampoline, this,
                              static_cast<su_duration_t>(delay.count())) < 0) {
        sip_log.error("trunk {}: cannot arm the registration timer", _trunk);
    }
}

void registration::on_timer() {
    if (_unregistering || _orq) {
        return;
    }
    _challenges = 0;
    if (_status.state != "registered") {
        _status.state = "registering";
    }
    // Credentials for the last challenge go along at once (RFC 7616 3.6: a
    // client remembers nonce and nonce count for later requests in the
    // protection space); a stale nonce costs one 401.
    send(false);
}

void registration::timer_trampoline(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    // An exception must not unwind through sofia's C frames.
    auto* self = static_cast<registration*>(arg);
    try {
        self->on_timer();
    } catch (const std::exception& e) {
        sip_log.error("trunk {}: registration timer failed: {}", self->_trunk, e.what());
    }
}

}  // namespace sbc::b2bua
