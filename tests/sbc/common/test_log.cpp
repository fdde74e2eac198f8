// The log's journal side (log.hpp): the scoped context of CALL, TRUNK and
// PEER, the fields a line becomes, and the JOURNAL_STREAM check. No
// journald: the fields are what sd_journal_sendv would be given.
#include "sbc/common/log.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace slog = sbc::log;

TEST_CASE("log contexts nest and restore the enclosing one", "[log][context]") {
    REQUIRE(slog::context::current() == nullptr);
    {
        const slog::context call{"12", "carrier", "192.0.2.7:5060"};
        REQUIRE(slog::context::current() == &call);
        {
            // Empty fields are the enclosing context's.
            const slog::context inner{"", "", "198.51.100.1:5060"};
            REQUIRE(slog::context::current() == &inner);
            CHECK(inner.call() == "12");
            CHECK(inner.trunk() == "carrier");
            CHECK(inner.peer() == "198.51.100.1:5060");
            {
                const slog::context other{"13", "pbx"};
                CHECK(slog::context::current()->call() == "13");
                CHECK(slog::context::current()->trunk() == "pbx");
                CHECK(slog::context::current()->peer() == "198.51.100.1:5060");
            }
            CHECK(slog::context::current() == &inner);
        }
        CHECK(slog::context::current() == &call);
        CHECK(call.peer() == "192.0.2.7:5060");
    }
    CHECK(slog::context::current() == nullptr);
}

TEST_CASE("a journal entry has the line, its priority and its subsystem", "[log][journal]") {
    CHECK(slog::journal_fields(slog::level::warn, "sip", "WARN sip: no route", nullptr) ==
          std::vector<std::string>{"MESSAGE=WARN sip: no route", "PRIORITY=4",
                                   "SYSLOG_IDENTIFIER=sbcd", "SBC_SUBSYSTEM=sip"});
    CHECK(slog::journal_fields(slog::level::error, "conf", "x", nullptr)[1] == "PRIORITY=3");
    CHECK(slog::journal_fields(slog::level::info, "conf", "x", nullptr)[1] == "PRIORITY=6");
    CHECK(slog::journal_fields(slog::level::debug, "conf", "x", nullptr, "sbcctl")[1] ==
          "PRIORITY=7");
    CHECK(slog::journal_fields(slog::level::debug, "conf", "x", nullptr, "sbcctl")[2] ==
          "SYSLOG_IDENTIFIER=sbcctl");
}

TEST_CASE("a journal entry carries the context's call, trunk and peer", "[log][journal]") {
    const slog::context ctx{"12", "carrier", "192.0.2.7:5060"};
    CHECK(
        slog::journal_fields(slog::level::info, "sip", "INFO sip: BYE", slog::context::current()) ==
        std::vector<std::string>{"MESSAGE=INFO sip: BYE", "PRIORITY=6", "SYSLOG_IDENTIFIER=sbcd",
                                 "SBC_SUBSYSTEM=sip", "CALL=12", "TRUNK=carrier",
                                 "PEER=192.0.2.7:5060"});
    // What a peer sent cannot add a field.
    const slog::context odd{"", "a\nPRIORITY=0", ""};
    const auto fields = slog::journal_fields(slog::level::info, "sip", "m", &odd);
    CHECK(fields.back() == "PEER=192.0.2.7:5060");
    CHECK(fields[5] == "TRUNK=a\\x0aPRIORITY=0");
}

TEST_CASE("a journal entry leaves out what is not known", "[log][journal]") {
    const slog::context ctx{"", "pbx"};
    CHECK(slog::journal_fields(slog::level::info, "sip", "m", slog::context::current()) ==
          std::vector<std::string>{"MESSAGE=m", "PRIORITY=6", "SYSLOG_IDENTIFIER=sbcd",
                                   "SBC_SUBSYSTEM=sip", "TRUNK=pbx"});
}

TEST_CASE("stderr is the journal only when JOURNAL_STREAM names it", "[log][journal]") {
    CHECK(slog::is_journal_stream("8:12345", 8, 12345));
    CHECK_FALSE(slog::is_journal_stream("8:12345", 8, 12346));
    CHECK_FALSE(slog::is_journal_stream("9:12345", 8, 12345));
    CHECK_FALSE(slog::is_journal_stream(nullptr, 8, 12345));
    CHECK_FALSE(slog::is_journal_stream("", 8, 12345));
    CHECK_FALSE(slog::is_journal_stream("8:", 8, 0));
    CHECK_FALSE(slog::is_journal_stream(":12345", 0, 12345));
    CHECK_FALSE(slog::is_journal_stream("8:12345x", 8, 12345));
    CHECK_FALSE(slog::is_journal_stream("8-12345", 8, 12345));
}
