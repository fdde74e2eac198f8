// Appending CDR lines and rotating the file; see writer.hpp.
#include "sbc/cdr/writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace sbc::cdr {

namespace {

constexpr log::logger cdr_log{"cdr"};

std::string error_text(int err, int not_regular) {
    return err == not_regular ? std::string("not a regular file") : std::strerror(err);
}

}  // namespace

writer::writer(writer_options options) : _options(std::move(options)) {
    if (int err = open_file(); err != 0) {
        throw std::runtime_error(
            fmt::format("cdr: cannot open {}: {}", _options.path, error_text(err, not_regular)));
    }
}

writer::~writer() = default;

void writer::write(const record& r) noexcept {
    try {
        auto line = to_json_line(r);
        line += '\n';
        if (!_fd) {
            if (int err = open_file(); err != 0) {
                fail("cannot open the file, record lost", err);
                return;
            }
        }
        // An empty file takes any line: rotating it would only make another
        // empty file, for ever.
        if (_size > 0 && _size + line.size() > _options.max_bytes) {
            rotate();
            if (!_fd) {
                return;
            }
        }
        append(line);
    } catch (...) {
        // Only std::bad_alloc gets here, so do not log (that allocates too).
        _failures.fetch_add(1, std::memory_order_relaxed);
    }
}

void writer::reopen() noexcept {
    try {
        _fd.reset();
        if (int err = open_file(); err != 0) {
            // Not a failure yet: no record is lost until a write finds no file.
            log_problem("cannot reopen the file", err);
        }
    } catch (...) {
        // log_problem ran out of memory; the next write retries the open.
    }
}

std::uint64_t writer::records_written() const noexcept {
    return _written.load(std::memory_order_relaxed);
}

std::uint64_t writer::write_failures() const noexcept {
    return _failures.load(std::memory_order_relaxed);
}

const std::string& writer::path() const noexcept { return _options.path; }

int writer::open_file() noexcept {
    unique_fd fd{::open(_options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)};
    if (!fd) {
        return errno;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return errno;
    }
    // Rotation renames the path: that must never happen to /dev/null.
    if (!S_ISREG(st.st_mode)) {
        return not_regular;
    }
    _fd = std::move(fd);
    _size = static_cast<std::uint64_t>(st.st_size);
    return 0;
}

void writer::rotate() {
    if (_options.keep == 0) {
        if (::ftruncate(_fd.get(), 0) != 0) {
            fail("cannot truncate the full file", errno);
            return;
        }
        _size = 0;
        return;
    }
    // From the oldest down, so each name is free before the next file moves
    // onto it; the rename onto path.keep drops the oldest file. A missing
    // file (fewer than keep rotations so far) is no failure. On the first real
    // failure stop, so path -> path.1 cannot overwrite a path.1 not moved on.
    for (unsigned i = _options.keep - 1; i >= 1; --i) {
        if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT) {
            int err = errno;
            fail(fmt::format("cannot rotate {} to {}", numbered(i), numbered(i + 1)), err);
            return;
        }
    }
    // ENOENT: the file was removed under us; a new one is all it takes.
    if (::rename(_options.path.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT) {
        int err = errno;
        fail(fmt::format("cannot rotate to {}", numbered(1)), err);
        return;
    }
    _fd.reset();
    if (int err = open_file(); err != 0) {
        fail("cannot open a new file after rotation, record lost", err);
    }
}

void writer::append(std::string_view line) {
    ssize_t n = 0;
    do {
        n = ::write(_fd.get(), line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        fail("cannot write, record lost", errno);
        return;
    }
    auto written = static_cast<std::size_t>(n);
    if (written == line.size()) {
        _size += written;
        _written.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // A short write (disk full) leaves half a line that the next record would
    // continue; cut it off so every line stays one whole record.
    struct stat st {};
    if (::fstat(_fd.get(), &st) == 0) {
        auto size = static_cast<std::uint64_t>(st.st_size);
        _size = size >= written && ::ftruncate(_fd.get(), static_cast<off_t>(size - written)) == 0
                    ? size - written
                    : size;
    } else {
        _size += written;
    }
    fail(fmt::format("short write ({} of {} bytes), record lost", written, line.size()), 0);
}

void writer::fail(std::string_view what, int err) {
    _failures.fetch_add(1, std::memory_order_relaxed);
    log_problem(what, err);
}

void writer::log_problem(std::string_view what, int err) {
    // A full disk fails every call's record; a few lines a minute say enough.
    if (!_failure_log.allow()) {
        return;
    }
    auto suppressed = _failure_log.take_suppressed();
    cdr_log.error(
        "{}: {}{}{}", _options.path, what,
        err != 0 ? ": " + error_text(err, not_regular) : std::string{},
        suppressed != 0 ? fmt::format(" ({} more not logged)", suppressed) : std::string{});
}

std::string writer::numbered(unsigned n) const { return fmt::format("{}.{}", _options.path, n); }

}  // namespace sbc::cdr
