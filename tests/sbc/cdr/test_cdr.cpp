// Call detail records: the JSON line of a record, and the file they go to.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sbc/cdr/record.hpp"
#include "sbc/cdr/writer.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sbc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;
using sbc::test::temp_dir;

namespace {

/// 2026-12-02 at the given time of day, UTC.
cdr::wall_clock::time_point dec_2(std::chrono::hours h, std::chrono::minutes m,
                                  std::chrono::seconds s, std::chrono::milliseconds ms = 0ms) {
    using namespace std::chrono;
    return sys_days{year{2026} / December / 2} + h + m + s + ms;
}

/// A call from the carrier to the pbx, answered and hung up by the caller.
cdr::record answered_call() {
    cdr::record r;
    r.id = "c-42";
    r.call_id = "a84b4c76e66710@pc33.carrier.example";
    r.start = dec_2(17h, 20min, 1s, 123ms);
    r.answer = dec_2(17h, 20min, 4s, 623ms);
    r.end = dec_2(17h, 21min, 4s, 624ms);
    r.source = "198.51.100.7:5060";
    r.from_trunk = "carrier";
    r.to_trunk = "pbx";
    r.route = "from-carrier";
    r.received = {.ruri_user = "004930123456", .from_user = "0891234", .to_user = "004930123456"};
    r.normalized = {.ruri_user = "+4930123456", .from_user = "+49891234", .to_user = "+4930123456"};
    r.sent = {.ruri_user = "123456", .from_user = "+49891234", .to_user = "123456"};
    r.status = 200;
    r.reason = "OK";
    r.disconnected_by = cdr::party::caller;
    r.disconnect_reason = "BYE";
    r.media_a = {.codec = "PCMA/8000",
                 .packets_received = 3000,
                 .packets_sent = 2999,
                 .bytes_received = 516000,
                 .bytes_sent = 515828,
                 .packets_dropped = 1,
                 .quality = cdr::leg_quality{.rtp_expected = 3010,
                                             .rtp_lost = 10,
                                             .loss_percent = 0.25,
                                             .jitter_ms = 1.5,
                                             .rtt_ms = 42.0,
                                             .mos = 4.25}};
    r.media_b = {.codec = "G729/8000",
                 .packets_received = 2998,
                 .packets_sent = 3000,
                 .bytes_received = 95936,
                 .bytes_sent = 96000,
                 .packets_dropped = 2,
                 .quality = std::nullopt};
    return r;
}

/// A call refused for want of a route: never answered, nothing sent.
cdr::record unrouted_call() {
    cdr::record r;
    r.id = "c-43";
    r.call_id = "x@y";
    r.start = dec_2(8h, 0min, 0s, 5ms);
    r.end = dec_2(8h, 0min, 0s, 255ms);
    r.source = "203.0.113.9:5060";
    r.from_trunk = "carrier";
    r.received = {.ruri_user = "999", .from_user = "1", .to_user = "999"};
    r.normalized = r.received;
    r.status = 404;
    r.reason = "Not Found";
    r.disconnected_by = cdr::party::sbc;
    r.disconnect_reason = "404 Not Found";
    return r;
}

/// Numbered calls whose lines all have the same length (ids "c-1" .. "c-9").
cdr::record call_number(int n) {
    auto r = answered_call();
    r.id = "c-" + std::to_string(n);
    return r;
}

json parsed(const cdr::record& r) { return json::parse(cdr::to_json_line(r)); }

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

/// The "id" of each line of the file, which must be a CDR file.
std::vector<std::string> ids_in(const std::string& path) {
    std::vector<std::string> ids;
    for (const auto& line : lines_of(path)) {
        ids.push_back(json::parse(line).at("id").get<std::string>());
    }
    return ids;
}

using ids = std::vector<std::string>;

/// The bytes one record takes in the file.
std::uint64_t line_bytes(const cdr::record& r) { return cdr::to_json_line(r).size() + 1; }

}  // namespace

// --- the JSON line ---------------------------------------------------------

TEST_CASE("record: who ended the call has a name", "[record]") {
    CHECK(cdr::to_string(cdr::party::none) == "none");
    CHECK(cdr::to_string(cdr::party::caller) == "caller");
    CHECK(cdr::to_string(cdr::party::callee) == "callee");
    CHECK(cdr::to_string(cdr::party::sbc) == "sbc");
    CHECK(cdr::to_string(static_cast<cdr::party>(42)) == "unknown");
}

TEST_CASE("record: an answered call, every field", "[record]") {
    auto j = parsed(answered_call());

    CHECK(j.at("id") == "c-42");
    CHECK(j.at("call_id") == "a84b4c76e66710@pc33.carrier.example");
    CHECK(j.at("start") == "2026-12-02T17:20:01.123Z");
    CHECK(j.at("answer") == "2026-12-02T17:20:04.623Z");
    CHECK(j.at("end") == "2026-12-02T17:21:04.624Z");
    CHECK(j.at("setup_s") == 3.5);
    CHECK(j.at("duration_s") == 60.001);
    CHECK(j.at("source") == "198.51.100.7:5060");
    CHECK(j.at("from_trunk") == "carrier");
    CHECK(j.at("to_trunk") == "pbx");
    CHECK(j.at("route") == "from-carrier");
    CHECK(j.at("numbers") == json::parse(R"({
        "received": {"ruri_user": "004930123456", "from_user": "0891234",
                     "to_user": "004930123456"},
        "normalized": {"ruri_user": "+4930123456", "from_user": "+49891234",
                       "to_user": "+4930123456"},
        "sent": {"ruri_user": "123456", "from_user": "+49891234", "to_user": "123456"}})"));
    CHECK(j.at("status") == 200);
    CHECK(j.at("reason") == "OK");
    CHECK(j.at("disconnected_by") == "caller");
    CHECK(j.at("disconnect_reason") == "BYE");
    CHECK(j.at("local_ringback") == false);
    CHECK(j.at("media") == json::parse(R"({
        "a": {"codec": "PCMA/8000", "packets_received": 3000, "packets_sent": 2999,
              "bytes_received": 516000, "bytes_sent": 515828, "packets_dropped": 1,
              "quality": {"rtp_expected": 3010, "rtp_lost": 10, "loss_percent": 0.25,
                          "jitter_ms": 1.5, "rtt_ms": 42.0, "mos": 4.25}},
        "b": {"codec": "G729/8000", "packets_received": 2998, "packets_sent": 3000,
              "bytes_received": 95936, "bytes_sent": 96000, "packets_dropped": 2,
              "quality": null}})"));

    // Nothing beyond the documented keys.
    std::vector<std::string> keys;
    for (const auto& [key, value] : j.items()) {
        keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    CHECK(keys == std::vector<std::string>{
                      "answer", "call_id", "disconnect_reason", "disconnected_by", "duration_s",
                      "end", "from_trunk", "id", "local_ringback", "media", "numbers", "reason",
                      "route", "setup_s", "source", "start", "status", "to_trunk"});
}

TEST_CASE("record: keys come in the documented order, durations with 3 decimals", "[record]") {
    auto line = cdr::to_json_line(answered_call());
    CHECK(line.rfind(R"({"id":"c-42","call_id":)", 0) == 0);
    CHECK(line.find(R"("setup_s":3.5,"duration_s":60.001,"source":)") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("record: a call not answered", "[record]") {
    auto j = parsed(unrouted_call());

    CHECK(j.at("answer").is_null());
    CHECK(j.at("duration_s") == 0);
    CHECK(j.at("setup_s") == 0.25);  // start..end
    CHECK(j.at("to_trunk") == "");
    CHECK(j.at("route") == "");
    CHECK(j.at("numbers").at("sent") ==
          json::parse(R"({"ruri_user": "", "from_user": "", "to_user": ""})"));
    CHECK(j.at("status") == 404);
    CHECK(j.at("disconnected_by") == "sbc");
    CHECK(j.at("disconnect_reason") == "404 Not Found");
    CHECK(j.at("media").at("a").at("codec") == "");
    CHECK(j.at("media").at("a").at("packets_received") == 0);
}

TEST_CASE("record: times are truncated to the millisecond, durations match them", "[record]") {
    auto r = answered_call();
    r.start = dec_2(23h, 59min, 59s, 999ms) + 999us;
    r.answer = dec_2(23h, 59min, 59s, 999ms) + 999us;
    r.end = r.start + 1999us;  // 00:00:00.001998 the next day
    auto j = parsed(r);

    CHECK(j.at("start") == "2026-12-02T23:59:59.999Z");
    CHECK(j.at("end") == "2026-12-03T00:00:00.001Z");
    CHECK(j.at("setup_s") == 0);
    CHECK(j.at("duration_s") == 0.002);
}

TEST_CASE("record: the wall clock stepped back during the call", "[record]") {
    auto r = answered_call();
    r.end = *r.answer - 5s;
    auto j = parsed(r);

    CHECK(j.at("duration_s") == 0);
    CHECK(j.at("setup_s") == 3.5);
}

TEST_CASE("record: bytes from the network still make one valid JSON line", "[record]") {
    auto r = unrouted_call();
    r.received.ruri_user =
        "12\xff\xfe"
        "34";  // not UTF-8
    r.received.from_user = std::string("a\0b\r\nc\td\"e\\f\x7f", 14);
    r.received.to_user = "trunc\xe2\x82";  // a euro sign cut short
    r.call_id = "caf\xc3\xa9\x01";         // valid UTF-8 and a control character
    r.reason = "\xc0\xaf";                 // an overlong '/'

    auto line = cdr::to_json_line(r);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    json j;
    REQUIRE_NOTHROW(j = json::parse(line));  // the parser rejects invalid UTF-8

    const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
    const auto& received = j.at("numbers").at("received");
    CHECK(received.at("ruri_user") == "12" + replacement + replacement + "34");
    CHECK(received.at("from_user") == std::string("a\0b\r\nc\td\"e\\f\x7f", 14));
    CHECK(received.at("to_user").get<std::string>().rfind("trunc" + replacement, 0) == 0);
    CHECK(j.at("call_id") == "caf\xc3\xa9\x01");
    CHECK(j.at("reason").get<std::string>().find("/") == std::string::npos);
}

// --- the file --------------------------------------------------------------

TEST_CASE("writer: one line per record, appended", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    { std::ofstream(path) << R"({"id":"from-before"})" << '\n'; }
    cdr::writer w({.path = path});
    CHECK(w.path() == path);

    w.write(call_number(1));
    w.write(unrouted_call());
    w.write(call_number(2));

    CHECK(ids_in(path) == ids{"from-before", "c-1", "c-43", "c-2"});
    CHECK(lines_of(path).at(1) == cdr::to_json_line(call_number(1)));
    CHECK(w.records_written() == 3);
    CHECK(w.write_failures() == 0);
}

TEST_CASE("writer: a new file is created 0640", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto old_mask = ::umask(022);
    cdr::writer w({.path = dir.file("cdr.jsonl")});
    ::umask(old_mask);

    struct stat st {};
    REQUIRE(::stat(dir.file("cdr.jsonl").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    CHECK(st.st_size == 0);
}

TEST_CASE("writer: rotation keeps `keep` files, the oldest dropped", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    // Two records to a file.
    cdr::writer w({.path = path, .max_bytes = 2 * line_bytes(call_number(1)), .keep = 2});

    for (int n = 1; n <= 7; ++n) {
        w.write(call_number(n));
    }

    CHECK(ids_in(path) == ids{"c-7"});
    CHECK(ids_in(path + ".1") == ids{"c-5", "c-6"});
    CHECK(ids_in(path + ".2") == ids{"c-3", "c-4"});  // c-1 and c-2 are gone
    CHECK_FALSE(fs::exists(path + ".3"));
    CHECK(w.records_written() == 7);
    CHECK(w.write_failures() == 0);
}

TEST_CASE("writer: what the file held at start counts towards max_bytes", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    const std::string old_line = R"({"id":"from-before"})";
    { std::ofstream(path) << old_line << '\n'; }
    cdr::writer w({.path = path, .max_bytes = old_line.size() + 1 + line_bytes(call_number(1))});

    w.write(call_number(1));  // just fits
    w.write(call_number(2));

    CHECK(ids_in(path + ".1") == ids{"from-before", "c-1"});
    CHECK(ids_in(path) == ids{"c-2"});
}

TEST_CASE("writer: keep = 0 truncates instead of rotating", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    cdr::writer w({.path = path, .max_bytes = 2 * line_bytes(call_number(1)), .keep = 0});

    for (int n = 1; n <= 3; ++n) {
        w.write(call_number(n));
    }

    CHECK(ids_in(path) == ids{"c-3"});
    CHECK_FALSE(fs::exists(path + ".1"));
    CHECK(w.records_written() == 3);
}

TEST_CASE("writer: a record longer than max_bytes gets a file of its own", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    cdr::writer w({.path = path, .max_bytes = 10, .keep = 3});

    w.write(call_number(1));
    w.write(call_number(2));

    CHECK(ids_in(path) == ids{"c-2"});
    CHECK(ids_in(path + ".1") == ids{"c-1"});
    CHECK_FALSE(fs::exists(path + ".2"));
    CHECK(w.write_failures() == 0);
}

TEST_CASE("writer: reopen after logrotate moved the file", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("cdr.jsonl");
    cdr::writer w({.path = path});
    w.write(call_number(1));

    fs::rename(path, path + ".old");  // what logrotate does
    w.write(call_number(2));          // still the moved file until told
    w.reopen();                       // SIGHUP
    w.write(call_number(3));

    CHECK(ids_in(path + ".old") == ids{"c-1", "c-2"});
    CHECK(ids_in(path) == ids{"c-3"});
    CHECK(w.records_written() == 3);
    CHECK(w.write_failures() == 0);
}

TEST_CASE("writer: a missing directory is refused at start, naming the path", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto path = dir.file("missing/cdr.jsonl");
    CHECK_THROWS_AS(cdr::writer({.path = path}), std::runtime_error);
    CHECK_THROWS_WITH(cdr::writer({.path = path}),
                      Catch::Contains(path) && Catch::Contains(std::strerror(ENOENT)));
}

TEST_CASE("writer: a path that is not a regular file is refused", "[writer]") {
    // Rotation would rename it.
    CHECK_THROWS_WITH(cdr::writer({.path = "/dev/null"}),
                      Catch::Contains("/dev/null") && Catch::Contains("not a regular file"));
}

TEST_CASE("writer: a directory gone at run time costs records, not the process", "[writer]") {
    temp_dir dir{"sbc-cdr"};
    auto sub = dir.file("cdr");
    fs::create_directory(sub);
    auto path = sub + "/cdr.jsonl";
    cdr::writer w({.path = path});
    w.write(call_number(1));

    fs::remove_all(sub);
    w.reopen();  // fails, logged
    CHECK(w.write_failures() == 0);
    w.write(call_number(2));
    w.write(call_number(3));
    CHECK(w.write_failures() == 2);
    CHECK(w.records_written() == 1);

    // Each write tries the open again.
    fs::create_directory(sub);
    w.write(call_number(4));
    CHECK(ids_in(path) == ids{"c-4"});
    CHECK(w.records_written() == 2);
    CHECK(w.write_failures() == 2);
}

TEST_CASE("writer: rotation in a read-only directory fails, the record is kept", "[writer]") {
    if (::geteuid() == 0) {
        WARN("skipped: root writes to read-only directories");
        return;
    }
    temp_dir dir{"sbc-cdr"};
    auto sub = dir.file("cdr");
    fs::create_directory(sub);
    auto path = sub + "/cdr.jsonl";
    cdr::writer w({.path = path, .max_bytes = line_bytes(call_number(1)), .keep = 2});
    w.write(call_number(1));

    fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
    w.write(call_number(2));  // cannot rename to .1
    CHECK(w.write_failures() == 1);
    CHECK(w.records_written() == 2);
    CHECK(ids_in(path) == ids{"c-1", "c-2"});

    w.reopen();  // the file exists: opening it needs no write access to the directory
    w.write(call_number(3));
    CHECK(w.write_failures() == 2);
    CHECK(ids_in(path) == ids{"c-1", "c-2", "c-3"});

    fs::permissions(sub, fs::perms::owner_all);
    w.write(call_number(4));
    CHECK(w.write_failures() == 2);
    CHECK(ids_in(path + ".1") == ids{"c-1", "c-2", "c-3"});
    CHECK(ids_in(path) == ids{"c-4"});
}

TEST_CASE("writer: a file removed from a read-only directory cannot be reopened", "[writer]") {
    if (::geteuid() == 0) {
        WARN("skipped: root writes to read-only directories");
        return;
    }
    temp_dir dir{"sbc-cdr"};
    auto sub = dir.file("cdr");
    fs::create_directory(sub);
    auto path = sub + "/cdr.jsonl";
    cdr::writer w({.path = path});
    w.write(call_number(1));

    fs::rename(path, dir.file("moved.jsonl"));
    fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
    w.reopen();
    REQUIRE_NOTHROW(w.write(call_number(2)));
    CHECK(w.write_failures() == 1);
    CHECK(w.records_written() == 1);
    CHECK_FALSE(fs::exists(path));
}
