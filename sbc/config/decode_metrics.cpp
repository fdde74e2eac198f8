// The metrics section: where the Prometheus exporter listens.
#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"

namespace sbc::config::detail {

std::optional<metrics_config> decode_metrics(problem_list& p, const located& at) {
    if (at.node.IsNull()) {
        return std::nullopt;  // "metrics:" with nothing under it: no exporter
    }
    auto m = map_reader::open(p, at, {"listen"}, "a map with listen");
    if (!m) {
        return std::nullopt;
    }
    constexpr std::string_view what =
        "the exporter's HTTP address, IP:PORT (IPv6 in brackets), e.g. 127.0.0.1:9464";
    auto v = m->require("listen", what);
    if (!v) {
        return std::nullopt;
    }
    auto text = read_string(p, *v, what);
    if (!text) {
        return std::nullopt;
    }
    auto listen = parse_metrics_listen(*text);
    if (!listen) {
        rejected(p, *v, listen.error_message());
        return std::nullopt;
    }
    return metrics_config{std::move(*listen)};
}

}  // namespace sbc::config::detail
