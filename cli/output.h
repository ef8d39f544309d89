// Printing for people (aligned tables) and for programs (--json, one JSON document on stdout).
#ifndef THINSNAP_CLI_OUTPUT_H_
#define THINSNAP_CLI_OUTPUT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "thinpool/engine.h"

namespace thinsnap::cli {

// Prints rows as columns separated by two spaces; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows);
void PrintJson(const nlohmann::json& doc);
// "thinsnap: warning: <line>" on stderr: how the CLI shows EngineOptions::warning.
void PrintWarning(const std::string& line);

nlohmann::json RecordToJson(const DeviceRecord& rec);
// The STATE column of `ls`: delete-pending, writable, ro or rw.
const char* DeviceStateText(const DeviceRecord& rec);
nlohmann::json DfRowToJson(const DfRow& row);
nlohmann::json ChangeToJson(const TreeChange& change);  // {"Kind": "A", "Path": ...}
nlohmann::json ViewToJson(const DeviceView& view);
nlohmann::json PoolReportToJson(const PoolReport& report);
// {"Clean", "Problems": [sentences], "Notes": [sentences], "Findings": [{"Severity", "Code",
// "Device", "Message"}]}: the sentences as before, and each finding with its fields.
nlohmann::json CheckReportToJson(const CheckReport& report);
void PrintPoolReport(const PoolReport& report);
void PrintDeviceView(const DeviceView& view);

std::string FormatTime(int64_t ns);
// bytes / (ns / 1e9), 0 when ns <= 0.
uint64_t BytesPerSecond(uint64_t bytes, int64_t ns);
// "sending golden: 312 MiB of 1.0 GiB (31%), 95 MiB/s": the live line of send and receive.
std::string FormatTransferProgress(const TransferProgress& p);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_OUTPUT_H_
