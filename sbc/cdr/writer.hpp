// The CDR file: one JSON line per call attempt, appended, rotated by size.
//
// The B2BUA owns one writer and hands it each record as a call attempt ends;
// sbcd calls reopen() on SIGHUP so an external logrotate can move the file
// away. Rotation is built in as well (path -> path.1 -> ... -> path.keep) so
// a box without logrotate does not fill its disk.
//
// Each line goes out in one write(2) on an O_APPEND descriptor, so a reader
// tailing the file never sees half a record from a healthy disk; a short
// write (disk full) is cut off again so the next line starts on a line of its
// own.
//
// Threads: write() and reopen() run on one thread (the su_root thread in
// sbcd); the counters may be read from any thread.
#pragma once

#include "sbc/cdr/record.hpp"
#include "sbc/common/log.hpp"
#include "sbc/common/unique_fd.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sbc::cdr {

struct writer_options {
    std::string path;  ///< absolute file path, e.g. /var/log/sbc/cdr.jsonl
    std::uint64_t max_bytes = 10 * 1024 * 1024;  ///< rotate when the file would exceed this
    unsigned keep = 10;  ///< rotated files kept: path.1 (newest) .. path.N; 0 truncates instead
};

class writer {
public:
    /// Opens (creates, mode 0640 less the umask, O_APPEND|O_CLOEXEC) the file;
    /// the parent directory must exist. The size it already has counts towards
    /// max_bytes. Throws std::runtime_error naming the path and the strerror
    /// text when it cannot be opened, or when the path is not a regular file
    /// (rotation would rename a device or a FIFO).
    explicit writer(writer_options options);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    /// Appends the record's line. When the line would take the file past
    /// max_bytes, rotates first: path.(keep-1) -> path.keep, ..., path ->
    /// path.1, then a new path (keep == 0: the file is truncated). A line
    /// longer than max_bytes still goes into an empty file, alone.
    ///
    /// Never throws. A record that cannot be written, or a rotation that fails,
    /// counts in write_failures() and is logged (rate-limited, logger "cdr").
    /// When rotation fails the record still goes into the current file, past
    /// max_bytes: a billing record is worth more than the size limit. When the
    /// file is not open (a reopen failed), each write tries to open it again.
    void write(const record& r) noexcept;

    /// Closes and reopens the path, after an external logrotate moved it away.
    /// When the open fails it is logged, and the next write() tries again.
    void reopen() noexcept;

    /// Records appended to the file.
    std::uint64_t records_written() const noexcept;
    /// Records lost and rotations that failed.
    std::uint64_t write_failures() const noexcept;
    const std::string& path() const noexcept;

private:
    /// 0, or the errno of the failed open or fstat, or not_regular.
    int open_file() noexcept;
    /// Counts and logs its own failures; leaves _fd closed when the record
    /// cannot be written at all.
    void rotate();
    void append(std::string_view line);
    /// Counts one failure and logs it; `err` is an errno value, or 0 for none.
    void fail(std::string_view what, int err);
    void log_problem(std::string_view what, int err);
    std::string numbered(unsigned n) const;

    static constexpr int not_regular = -1;

    writer_options _options;
    unique_fd _fd;                            ///< closed after a failed reopen or rotation
    std::uint64_t _size = 0;                  ///< of the open file, kept so a write needs no fstat
    std::atomic<std::uint64_t> _written{0};   ///< written by write(), read by anyone
    std::atomic<std::uint64_t> _failures{0};  ///< written by write(), read by anyone
    log::rate_limit _failure_log{10, std::chrono::minutes(1)};
};

}  // namespace sbc::cdr
