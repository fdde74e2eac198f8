// Server and client transactions between two nta agents on loopback: what
// an unanswered request gets, where responses go, what destroying a client
// transaction stops, and CANCEL.
#include <catch2/catch.hpp>

#include "tests/sbc/sofia/nta_pair.hpp"

using namespace sbc;
using sbc::test::nta_pair;
using sbc::test::status_log;

TEST_CASE("a server transaction dropped unanswered answers 500", "[sofia][transaction]") {
    nta_pair t;
    status_log log;
    SECTION("a MESSAGE") {
        auto tx = t.send(SIP_METHOD_MESSAGE, log);
        REQUIRE(tx);
        REQUIRE(t.uas_holds(1));
        t.uas_requests.kept.clear();  // dropped without a word
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        CHECK(log.statuses == std::vector<int>{500});
    }
    SECTION("an INVITE, which would otherwise ring until Timer B") {
        auto tx = t.send(SIP_METHOD_INVITE, log);
        REQUIRE(t.uas_holds(1));
        REQUIRE(t.uas_requests.kept[0].reply(SIP_180_RINGING));
        t.uas_requests.kept.clear();
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        CHECK(log.statuses == std::vector<int>{180, 500});
    }
}

TEST_CASE("an answered server transaction is not answered again", "[sofia][transaction]") {
    nta_pair t;
    status_log first;
    status_log barrier;
    auto tx = t.send(SIP_METHOD_MESSAGE, first);
    REQUIRE(t.uas_holds(1));
    REQUIRE(t.uas_requests.kept[0].reply(SIP_200_OK));
    CHECK(t.uas_requests.kept[0].answered());
    t.uas_requests.kept.clear();
    // Whatever the destruction sent would leave before the barrier's answer.
    auto after = t.send(SIP_METHOD_OPTIONS, barrier);
    REQUIRE(t.uas_holds(1));
    REQUIRE(t.uas_requests.kept[0].reply(SIP_200_OK));
    REQUIRE(t.loop.run_until([&] { return barrier.final(); }));
    CHECK(first.statuses == std::vector<int>{200});
    CHECK(t.uas.sent_responses() == 2);
    CHECK(t.uac.received_responses() == 2);
}

TEST_CASE("a client transaction's callback gets its provisional and final responses",
          "[sofia][transaction]") {
    nta_pair t;
    status_log log;
    auto invite = t.send(SIP_METHOD_INVITE, log);
    REQUIRE(t.uas_holds(1));
    auto& irq = t.uas_requests.kept[0];
    REQUIRE(irq.reply(SIP_180_RINGING));
    REQUIRE(t.loop.run_until([&] { return log.statuses.size() == 1; }));
    REQUIRE(irq.reply(SIP_486_BUSY_HERE));
    REQUIRE(t.loop.run_until([&] { return log.final(); }));
    CHECK(log.statuses == std::vector<int>{180, 486});
    CHECK(invite.status() == 486);
    CHECK(invite.latest_response().sip()->sip_status->st_status == 486);
}

TEST_CASE("two client transactions in flight each get their own responses",
          "[sofia][transaction]") {
    nta_pair t;
    status_log message;
    status_log invite;
    auto m = t.send(SIP_METHOD_MESSAGE, message);
    auto i = t.send(SIP_METHOD_INVITE, invite);
    REQUIRE(t.uas_holds(2));
    auto& kept = t.uas_requests.kept;
    auto& invite_irq = kept[0].method() == sip_method_invite ? kept[0] : kept[1];
    auto& message_irq = kept[0].method() == sip_method_invite ? kept[1] : kept[0];
    // Answered in the other order than sent.
    REQUIRE(invite_irq.reply(SIP_183_SESSION_PROGRESS));
    REQUIRE(invite_irq.reply(SIP_603_DECLINE));
    REQUIRE(message_irq.reply(SIP_202_ACCEPTED));
    REQUIRE(t.loop.run_until([&] { return message.final() && invite.final(); }));
    CHECK(invite.statuses == std::vector<int>{183, 603});
    CHECK(message.statuses == std::vector<int>{202});
}

TEST_CASE("a client transaction destroyed before its response is never called back",
          "[sofia][transaction]") {
    nta_pair t;
    status_log message;
    status_log invite;
    std::vector<int> strays;
    t.uac.on_stray([&](msg_t* msg, sip_t* sip) {
        strays.push_back(sip->sip_status != nullptr ? sip->sip_status->st_status : 0);
        msg_destroy(msg);
    });
    {
        auto m = t.send(SIP_METHOD_MESSAGE, message);
        auto i = t.send(SIP_METHOD_INVITE, invite);
        REQUIRE(t.uas_holds(2));
    }  // both destroyed here, unanswered
    for (auto& irq : t.uas_requests.kept) {
        if (irq.method() == sip_method_invite) {
            REQUIRE(irq.reply(SIP_180_RINGING));
            REQUIRE(irq.reply(SIP_200_OK));
        } else {
            REQUIRE(irq.reply(SIP_200_OK));
        }
    }
    REQUIRE(t.loop.run_until([&] { return t.uac.received_responses() >= 3; }));
    CHECK(message.statuses.empty());
    CHECK(invite.statuses.empty());
    // The INVITE was freed at once (no CANCEL went out): its 2xx matches no
    // transaction and reaches the agent as a stray response.
    REQUIRE(t.loop.run_until([&] { return !strays.empty() && strays.back() == 200; }));
}

TEST_CASE("a callback may destroy its own transaction", "[sofia][transaction]") {
    nta_pair t;
    std::optional<sofia::client_transaction> tx;
    std::vector<int> seen;
    const auto to = t.uas.uri("bob");
    tx = sofia::client_transaction::send(
        t.uac_default.get(),
        [&](const sofia::response& r) {
            seen.push_back(r.status);
            tx.reset();  // the callable that runs is destroyed by its own call
            seen.push_back(-1);
        },
        nullptr, SIP_METHOD_OPTIONS, URL_STRING_MAKE(to.c_str()),
        SIPTAG_FROM_STR("<sip:alice@127.0.0.1>"));
    REQUIRE(t.uas_holds(1));
    REQUIRE(t.uas_requests.kept[0].reply(SIP_200_OK));
    REQUIRE(t.loop.run_until([&] { return !tx.has_value(); }));
    CHECK(seen == std::vector<int>{200, -1});
}

TEST_CASE("a moved client transaction keeps its callback", "[sofia][transaction]") {
    nta_pair t;
    status_log log;
    std::vector<sofia::client_transaction> held;
    held.push_back(t.send(SIP_METHOD_MESSAGE, log));
    for (int i = 0; i < 16; ++i) {
        held.emplace_back();  // reallocates: the transaction moves
    }
    REQUIRE(t.uas_holds(1));
    REQUIRE(t.uas_requests.kept[0].reply(SIP_200_OK));
    REQUIRE(t.loop.run_until([&] { return log.final(); }));
    CHECK(log.statuses == std::vector<int>{200});
}

TEST_CASE("CANCEL of an INVITE in progress", "[sofia][transaction][cancel]") {
    nta_pair t;
    status_log log;
    auto invite = t.send(SIP_METHOD_INVITE, log);
    REQUIRE(t.uas_holds(1));
    auto irq = std::move(t.uas_requests.kept[0]);
    std::vector<std::string> seen;
    irq.on_ack_or_cancel([&](const sip_t* sip) {
        seen.emplace_back(sip != nullptr ? sip->sip_request->rq_method_name : "timeout");
        // NTATAG_CANCEL_487(0): the INVITE's answer is ours (RFC 3261 9.2).
        if (sip != nullptr && sip->sip_request->rq_method == sip_method_cancel) {
            irq.reply(SIP_487_REQUEST_TERMINATED);
        }
    });
    SECTION("after a provisional response") {
        REQUIRE(irq.reply(SIP_180_RINGING));
        REQUIRE(t.loop.run_until([&] { return !log.statuses.empty(); }));
        REQUIRE(invite.cancel());
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        CHECK(log.statuses == std::vector<int>{180, 487});
        CHECK(seen == std::vector<std::string>{"CANCEL"});
        CHECK_FALSE(invite.cancel());  // nothing left to cancel
    }
    SECTION("before any provisional response: sent once one arrives (RFC 3261 9.1)") {
        REQUIRE(invite.cancel());
        t.loop.drain();
        CHECK(seen.empty());
        REQUIRE(irq.reply(SIP_180_RINGING));
        REQUIRE(t.loop.run_until([&] { return log.final(); }));
        CHECK(log.statuses == std::vector<int>{180, 487});
        CHECK(seen == std::vector<std::string>{"CANCEL"});
    }
    SECTION("not an INVITE, nothing to cancel") {
        status_log other;
        auto message = t.send(SIP_METHOD_MESSAGE, other);
        CHECK_FALSE(message.cancel());
    }
}
