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

nlohmann::json RecordToJson(const DeviceRecord& rec);
nlohmann::json ViewToJson(const DeviceView& view);
nlohmann::json PoolReportToJson(const PoolReport& report);
void PrintPoolReport(const PoolReport& report);
void PrintDeviceView(const DeviceView& view);

std::string FormatTime(int64_t ns);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_OUTPUT_H_
