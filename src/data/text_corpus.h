// Byte-level text corpora: the `fortunes` package's files or any UTF-8 text file, tokenised as
// bytes (vocabulary 256) and split into a training part and a held-out validation tail.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mixtrain::data {

inline constexpr const char* kFortunesDefaultDir = "/usr/share/games/fortunes";
inline constexpr int kByteVocab = 256;
// The largest corpus read (a file, or the fortunes files together): 1 GiB, far beyond what a
// byte-level model here trains on, and a clear error instead of an allocation failure.
inline constexpr std::uint64_t kMaxTextBytes = std::uint64_t{1} << 30;

struct TextCorpus {
  std::vector<std::uint8_t> train;
  std::vector<std::uint8_t> val;
};

// Concatenates every regular, non-symlink, non-.dat file of the fortunes directory in name order,
// turning the "%" separator lines into blank lines (as ../shared/peers/common.py does). Throws an
// Error naming the `fortunes` package when none is found, and one naming the path when it is not
// a readable directory, a file cannot be read, the corpus is empty or over kMaxTextBytes.
std::string load_fortunes(const std::string& dir = "");

// Reads a text file; throws if missing, not a regular file (a FIFO, a directory), unreadable,
// empty, over kMaxTextBytes or not valid UTF-8 (with the byte offset).
std::string load_text_file(const std::string& path);

// The last `val_fraction` of the bytes is held out for validation.
TextCorpus split_corpus(const std::string& text, double val_fraction = 0.1);

// True when s is valid UTF-8; otherwise *bad_offset gets the first offending byte.
bool is_valid_utf8(const std::string& s, std::size_t* bad_offset = nullptr);

}  // namespace mixtrain::data
