// Numbers for people: byte sizes in binary units (KiB, MiB, ...) and counts
// in decimal ones (K, M, B, T), as the CLI prints them in tables.
#pragma once
#include <string>

namespace frugal {

std::string human_bytes(double n);  // "512 B", "1.50 KiB", "3.82 GiB"
std::string human_count(double n);  // "950", "1.20 K", "6.92 B"

}  // namespace frugal
