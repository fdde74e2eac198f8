// A stand-in for sbc/cluster/sealer.cpp (AES-256-GCM, another branch) until
// it is built: the same interface and document rule, no cryptography. A
// secret's text is reversed behind "fake:", so a test can still see that
// what reaches the store is not the secret and that it opens again.
// Linked by test_sbc and replication_bench only while sbc_cluster_seal is
// not defined (tests/sbc/cluster/meson.build).
#include <algorithm>
#include <cctype>
#include <functional>
#include <string>

#include "sbc/cluster/sealer.hpp"

namespace sbc::cluster {

namespace {

void fake_sealer_walk(nlohmann::json& j, const char* from,
                      const std::function<void(nlohmann::json&)>& f) {
    if (j.is_object()) {
        if (j.size() == 1 && j.contains(from)) {
            f(j);
            return;
        }
        for (auto& [k, v] : j.items()) {
            fake_sealer_walk(v, from, f);
        }
    } else if (j.is_array()) {
        for (auto& v : j) {
            fake_sealer_walk(v, from, f);
        }
    }
}

}  // namespace

result<sealer> sealer::from_hex(const std::string& hex) {
    if (hex.size() != 64 ||
        !std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(c) != 0; })) {
        return make_error("the key must be 64 hex digits");
    }
    return sealer();
}

std::string sealer::seal(std::span<const std::uint8_t> plain) const {
    return "fake:" + std::string(plain.rbegin(), plain.rend());
}

result<secret> sealer::open(std::span<const std::uint8_t> sealed) const {
    const std::string text(sealed.begin(), sealed.end());
    if (text.rfind("fake:", 0) != 0) {
        return make_error("does not open (fake sealer)");
    }
    return secret(std::vector<std::uint8_t>(text.rbegin(), text.rend() - 5));
}

void sealer::seal_document(nlohmann::json& doc) const {
    fake_sealer_walk(doc, "$secret", [](nlohmann::json& o) {
        auto text = o["$secret"].get<std::string>();
        o = nlohmann::json{{"$sealed", "fake:" + std::string(text.rbegin(), text.rend())}};
    });
}

result<bool> sealer::open_document(nlohmann::json& doc) const {
    bool ok = true;
    fake_sealer_walk(doc, "$sealed", [&ok](nlohmann::json& o) {
        auto text = o["$sealed"].is_string() ? o["$sealed"].get<std::string>() : std::string();
        if (text.rfind("fake:", 0) != 0) {
            ok = false;
            return;
        }
        o = nlohmann::json{{"$secret", std::string(text.rbegin(), text.rend() - 5)}};
    });
    if (!ok) {
        return make_error("a secret does not open (fake sealer)");
    }
    return true;
}

sealer::~sealer() = default;

}  // namespace sbc::cluster
