// Corpus loading and validation.
#include "data/text_corpus.h"

#include <algorithm>
#include <filesystem>

#include "io/atomic_file.h"
#include "runtime/error.h"

namespace mixtrain::data {
namespace fs = std::filesystem;

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

}  // namespace

std::string load_fortunes(const std::string& dir_in) {
  const std::string dir = dir_in.empty() ? kFortunesDefaultDir : dir_in;
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found)
    throw Error("fortunes corpus not found in " + dir + ": install it with `apt-get install fortunes`");
  if (ec) throw Error("cannot read '" + dir + "': " + ec.message());
  if (st.type() != fs::file_type::directory) throw Error("fortunes: '" + dir + "' is not a directory");
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const auto& e = *it;
    std::error_code e_ec;
    // Regular files only (not following symlinks, which the package uses for aliases): FIFOs,
    // sockets and devices are skipped before anything opens them.
    if (e.is_symlink(e_ec) || !e.is_regular_file(e_ec) || e.path().extension() == ".dat") continue;
    files.push_back(e.path());
  }
  if (ec) throw Error("cannot read directory '" + dir + "': " + ec.message());
  if (files.empty())
    throw Error("fortunes corpus not found in " + dir + " (no text files there): install it with `apt-get install fortunes`");
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files) {
    std::string t = io::read_text_file(f.string(), kMaxTextBytes);
    replace_all(t, "\n%\n", "\n\n");
    if (text.size() + t.size() > kMaxTextBytes)
      throw Error("fortunes corpus in " + dir + " is too large (more than " + std::to_string(kMaxTextBytes) + " bytes)");
    text += t;
  }
  if (text.empty()) throw Error("fortunes corpus in " + dir + " is empty");
  return text;
}

bool is_valid_utf8(const std::string& s, std::size_t* bad_offset) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4) || i + len > n) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        if (bad_offset) *bad_offset = i;
        return false;
      }
    i += static_cast<std::size_t>(len);
  }
  return true;
}

std::string load_text_file(const std::string& path) {
  std::string t = io::read_text_file(path, kMaxTextBytes);
  if (t.empty()) throw Error(path + ": empty text file");
  std::size_t bad = 0;
  if (!is_valid_utf8(t, &bad)) throw Error(path + ": not valid UTF-8 at byte " + std::to_string(bad));
  return t;
}

TextCorpus split_corpus(const std::string& text, double val_fraction) {
  if (val_fraction <= 0 || val_fraction >= 1) throw Error("validation fraction must be in (0, 1)");
  const auto n = text.size();
  const auto n_val = static_cast<std::size_t>(static_cast<double>(n) * val_fraction);
  TextCorpus c;
  c.train.assign(text.begin(), text.end() - static_cast<std::ptrdiff_t>(n_val));
  c.val.assign(text.end() - static_cast<std::ptrdiff_t>(n_val), text.end());
  return c;
}

}  // namespace mixtrain::data
