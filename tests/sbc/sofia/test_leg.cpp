// sofia::leg between two nta agents on loopback: a dialog made by INVITE,
// 200 and ACK, whose uas leg is moved to other owners and still delivers
// in-dialog requests where it should.
#include <catch2/catch.hpp>

#include <memory>

#include "tests/sbc/sofia/nta_pair.hpp"

using namespace sbc;
using sbc::test::nta_pair;
using sbc::test::request_keeper;
using sbc::test::status_log;

namespace {

// One established dialog: the uac's leg and the uas's, with what each side saw.
struct dialog {
    nta_pair t;
    request_keeper uac_in_dialog;
    request_keeper uas_in_dialog;
    sofia::leg uac_leg;
    sofia::leg uas_leg;
    std::vector<std::string> acks;  // what the INVITE's server transaction saw
    sofia::server_transaction invite_irq;

    dialog() {
        const auto from = "<" + t.uac.uri("alice") + ">";
        const auto to = "<" + t.uas.uri("bob") + ">";
        uac_leg =
            sofia::leg::create(t.uac.get(), uac_in_dialog, SIPTAG_FROM_STR(from.c_str()),
                               SIPTAG_TO_STR(to.c_str()), SIPTAG_CALL_ID_STR("leg-test@127.0.0.1"));
        REQUIRE(uac_leg);
        REQUIRE(uac_leg.set_tag());
        status_log log;
        const auto contact = "<" + t.uac.uri() + ">";
        auto invite = sofia::client_transaction::send(
            uac_leg.get(), log.callback(), nullptr, SIP_METHOD_INVITE,
            URL_STRING_MAKE(t.uas.uri("bob").c_str()), SIPTAG_CONTACT_STR(contact.c_str()));
        REQUIRE(t.uas_holds(1));
        accept(std::move(t.uas_requests.kept[0]));
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        REQUIRE(log.statuses.back() == 200);
        const sip_t* ok = invite.latest_response().sip();
        uac_leg.set_remote_tag(ok->sip_to->a_tag);
        uac_leg.route_from_response(ok);
        REQUIRE(sofia::send_ack_2xx(uac_leg.get(), invite));
        REQUIRE(t.loop.run_until([&] { return !acks.empty(); }));
    }

    // The uas side of RFC 3261 12.1.1: a leg from the INVITE, our tag in the 200.
    void accept(sofia::server_transaction irq) {
        const sip_t* sip = irq.request().sip();
        uas_leg = sofia::leg::create(t.uas.get(), uas_in_dialog, SIPTAG_CALL_ID(sip->sip_call_id),
                                     SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from),
                                     SIPTAG_CSEQ(sip->sip_cseq));
        REQUIRE(uas_leg);
        REQUIRE(uas_leg.set_tag());
        uas_leg.route_from_request(sip);
        nta_incoming_tag(irq.get(), uas_leg.tag().c_str());
        irq.on_ack_or_cancel([this](const sip_t* ack) {
            acks.emplace_back(ack != nullptr ? ack->sip_request->rq_method_name : "timeout");
        });
        const auto contact = "<" + t.uas.uri() + ">";
        REQUIRE(irq.reply(SIP_200_OK, SIPTAG_CONTACT_STR(contact.c_str())));
        invite_irq = std::move(irq);  // kept until its ACK (RFC 3261 13.3.1.4)
    }

    /// An in-dialog request from the uac; its final status.
    int uac_sends(sip_method_t method, const char* name, request_keeper* answerer) {
        status_log log;
        auto tx = sofia::client_transaction::send(uac_leg.get(), log.callback(), nullptr, method,
                                                  name, nullptr);
        REQUIRE(tx);
        if (answerer != nullptr) {
            const auto before = answerer->kept.size();
            REQUIRE(t.loop.run_until([&] { return answerer->kept.size() > before; }));
            answerer->kept.back().reply(SIP_200_OK);
        }
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        return log.statuses.back();
    }
};

}  // namespace

TEST_CASE("a dialog's legs carry tags, target and the 2xx's ACK", "[sofia][leg]") {
    dialog d;
    CHECK(d.acks == std::vector<std::string>{"ACK"});
    CHECK_FALSE(d.uas_leg.tag().empty());
    CHECK(d.uac_leg.remote_tag() == d.uas_leg.tag());
    CHECK(d.uas_leg.remote_tag() == d.uac_leg.tag());
    CHECK(d.uac_leg.remote_target() == d.t.uas.uri());
    CHECK(d.uas_leg.remote_target() == d.t.uac.uri());
    CHECK(sofia::leg::handler_of(d.uas_leg.get()) == &d.uas_in_dialog);
}

TEST_CASE("a moved leg still delivers in-dialog requests", "[sofia][leg]") {
    dialog d;
    SECTION("to the same handler when only the leg moved") {
        std::vector<sofia::leg> holder;
        holder.push_back(std::move(d.uas_leg));
        for (int i = 0; i < 16; ++i) {
            holder.emplace_back();  // reallocates: the leg moves again
        }
        CHECK_FALSE(d.uas_leg);
        CHECK(d.uac_sends(SIP_METHOD_INFO, &d.uas_in_dialog) == 200);
        CHECK(d.uas_in_dialog.methods == std::vector<std::string>{"INFO"});
    }
    SECTION("to a new owner's handler after a hand-over") {
        auto new_owner = std::make_unique<request_keeper>();
        sofia::leg handed = std::move(d.uas_leg);
        handed.set_handler(*new_owner);
        CHECK(d.uac_sends(SIP_METHOD_BYE, new_owner.get()) == 200);
        CHECK(new_owner->methods == std::vector<std::string>{"BYE"});
        CHECK(d.uas_in_dialog.methods.empty());
    }
}

TEST_CASE("a handler may answer by returning a status", "[sofia][leg]") {
    dialog d;
    struct refuser final : sofia::dialog_handler {
        int on_request(sofia::server_transaction&, const sip_t*) override { return 488; }
    } refuse;
    d.uas_leg.set_handler(refuse);
    CHECK(d.uac_sends(SIP_METHOD_UPDATE, nullptr) == 488);
}

TEST_CASE("a handler may destroy its own leg", "[sofia][leg]") {
    dialog d;
    struct closer final : sofia::dialog_handler {
        sofia::leg* leg = nullptr;
        int calls = 0;
        int on_request(sofia::server_transaction& request, const sip_t*) override {
            ++calls;
            request.reply(SIP_200_OK);
            *leg = sofia::leg();  // the BYE ends the dialog from inside its callback
            return 0;
        }
    } close;
    close.leg = &d.uas_leg;
    d.uas_leg.set_handler(close);
    CHECK(d.uac_sends(SIP_METHOD_BYE, nullptr) == 200);
    CHECK_FALSE(d.uas_leg);
    // The dialog is gone: its next request is one outside every dialog
    // (the uas's default leg here; the SBC answers those 481).
    CHECK(d.uac_sends(SIP_METHOD_INFO, &d.t.uas_requests) == 200);
    CHECK(close.calls == 1);
    CHECK(d.t.uas_requests.methods.back() == "INFO");
}

TEST_CASE("a released leg is nobody's until bound again", "[sofia][leg]") {
    dialog d;
    nta_leg_t* raw = d.uas_leg.release();
    REQUIRE(raw != nullptr);
    CHECK(sofia::leg::handler_of(raw) == nullptr);
    request_keeper adopter;
    auto again = sofia::leg::adopt(raw, adopter);
    CHECK(sofia::leg::handler_of(raw) == &adopter);
    CHECK(d.uac_sends(SIP_METHOD_INFO, &adopter) == 200);
}
