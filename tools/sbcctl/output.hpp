// sbcctl's human-readable output: the status line and aligned tables.
//
// Kept apart from main.cpp so the unit tests can check the text sbcctl prints.
#pragma once

#include <nlohmann/json.hpp>

#include "sbc/api/control_server.hpp"

#include <string>
#include <vector>

namespace sbc::ctl {

/// "3s", "2m03s", "1h02m03s", "2d01h02m03s"; negative or NaN read as 0.
std::string format_duration(double seconds);

/// Rows of cells as columns padded to their widest cell, two spaces apart,
/// one line per row (the first row is the header). No trailing blanks.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

/// "draining since <time>, N calls left, deadline <time> (in <duration>)"
/// (or ", no deadline"), one line.
std::string render_drain(const api::drain_status& drain);

/// "sbcd <version>, up <duration>, N active calls", the drain's line while
/// one runs, and the interfaces table.
std::string render_status(const api::status_info& status);

/// The calls table, or "no active calls".
std::string render_calls(const std::vector<api::call_info>& calls);

/// The reply to "trunks": one table of peers, then each TLS interface.
std::string render_trunks(const nlohmann::json& reply);

/// The reply to "reload": what was applied, or every validation error.
/// `sbcctl stats`: a row per call leg, then the media engine's totals.
std::string render_stats(const nlohmann::json& reply);

std::string render_reload(const nlohmann::json& reply);

/// The reply to "route_test": the numbers before and after normalization,
/// each rule tried with why it did or did not match, and the outcome.
std::string render_route_test(const nlohmann::json& reply);

/// `sbcctl cluster`: the node's role and partner, the store's health,
/// replication queue and lag, and the last take-over.
std::string render_cluster(const nlohmann::json& reply);

}  // namespace sbc::ctl
