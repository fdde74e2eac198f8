// A directory of a test's own under the system's temporary directory,
// removed with all it holds when the test ends, whatever permissions the
// test left on it.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace sbc::test {

class temp_dir {
public:
    explicit temp_dir(std::string_view prefix = "sbc-test") {
        auto pattern =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
        }
        _path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::permissions(_path, std::filesystem::perms::owner_all, ignored);
        std::filesystem::remove_all(_path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return _path; }
    // The path of `name` in the directory.
    std::string file(std::string_view name) const { return (_path / name).string(); }

private:
    std::filesystem::path _path;
};

}  // namespace sbc::test
