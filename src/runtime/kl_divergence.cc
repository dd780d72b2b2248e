#include "runtime/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"

namespace frugal::runtime {
namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'K', 'L'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 * 4 + 4;  // magic, version n_vocab n_ctx n_chunk, bos
constexpr size_t kRowHeadBytes = 16;             // top, top_logp, target_logp, tail
constexpr float kCodeStep = kLogProbRange / 65535.0f;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
void put_f32(std::string& s, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  put_u32(s, v);
}
float get_f32(const uint8_t* p) {
  const uint32_t v = get_u32(p);
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

size_t scored_rows(const LogProbHeader& h) {
  return static_cast<size_t>(h.n_chunk) * static_cast<size_t>(h.n_ctx - 1 - h.n_ctx / 2);
}

}  // namespace

LogProbWriter::LogProbWriter(const std::string& path, const LogProbHeader& h, std::span<const int32_t> tokens)
    : out_(path), h_(h), codes_(h.n_vocab) {
  if (tokens.size() != static_cast<size_t>(h.n_chunk) * h.n_ctx)
    fail("perplexity: ", tokens.size(), " tokens for ", h.n_chunk, " chunks of ", h.n_ctx);
  std::string head(kMagic, sizeof kMagic);
  put_u32(head, kVersion);
  put_u32(head, h.n_vocab);
  put_u32(head, h.n_ctx);
  put_u32(head, h.n_chunk);
  put_u32(head, static_cast<uint32_t>(h.bos));
  for (int32_t t : tokens) put_u32(head, static_cast<uint32_t>(t));
  out_.write(head);
}

void LogProbWriter::add_row(std::span<const float> logits, int32_t target) {
  const RowScore r = score_row(logits);
  const double top_logp = logits[static_cast<size_t>(r.top)] - r.log_sum_exp;
  const double floor = top_logp - kLogProbRange;
  double tail = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double lp = logits[i] - r.log_sum_exp;
    if (lp <= floor) tail += std::exp(lp);
    const long c = lp <= floor ? 0 : std::lround((lp - floor) / kCodeStep);
    // A value just above the floor would round to 0 and read as "below": keep it at 1.
    codes_[i] = static_cast<uint16_t>(lp <= floor ? 0 : std::clamp(c, 1L, 65535L));
  }
  std::string row;
  row.reserve(kRowHeadBytes + 2 * logits.size());
  put_u32(row, static_cast<uint32_t>(r.top));
  put_f32(row, static_cast<float>(top_logp));
  put_f32(row, static_cast<float>(logits[static_cast<size_t>(target)] - r.log_sum_exp));
  put_f32(row, static_cast<float>(tail));
  for (uint16_t c : codes_) {
    row.push_back(static_cast<char>(c & 0xFF));
    row.push_back(static_cast<char>(c >> 8));
  }
  out_.write(row);
  ++rows_;
}

void LogProbWriter::commit() {
  if (rows_ != scored_rows(h_)) fail("perplexity: ", rows_, " scored rows written, ", scored_rows(h_), " expected");
  out_.commit();
}

LogProbReader::LogProbReader(const std::string& path) : file_(path) {
  const uint8_t* p = file_.data();
  const size_t size = file_.size();
  if (size < kHeaderBytes || std::memcmp(p, kMagic, sizeof kMagic) != 0)
    fail(path, ": not a base log-probability file of frugal perplexity (--kl-divergence-base)");
  const uint32_t version = get_u32(p + 8);
  if (version != kVersion) fail(path, ": base file version ", version, " (this frugal reads ", kVersion, ")");
  h_.n_vocab = get_u32(p + 12);
  h_.n_ctx = get_u32(p + 16);
  h_.n_chunk = get_u32(p + 20);
  h_.bos = static_cast<int32_t>(get_u32(p + 24));
  if (h_.n_vocab == 0 || h_.n_ctx < 4 || h_.n_chunk == 0 || h_.n_ctx > (1u << 24) || h_.n_chunk > (1u << 24) ||
      h_.n_vocab > (1u << 24))
    fail(path, ": bad base file header (n_vocab ", h_.n_vocab, ", n_ctx ", h_.n_ctx, ", n_chunk ", h_.n_chunk, ")");
  const size_t n_tok = static_cast<size_t>(h_.n_ctx) * h_.n_chunk;
  rows_offset_ = kHeaderBytes + 4 * n_tok;
  row_bytes_ = kRowHeadBytes + 2 * static_cast<size_t>(h_.n_vocab);
  const size_t want = rows_offset_ + row_bytes_ * scored_rows(h_);
  if (size != want) fail(path, ": base file is ", size, " bytes, its header says ", want, " (truncated or damaged)");
  tokens_.resize(n_tok);
  for (size_t i = 0; i < n_tok; ++i) {
    tokens_[i] = static_cast<int32_t>(get_u32(p + kHeaderBytes + 4 * i));
    if (tokens_[i] < 0 || static_cast<uint32_t>(tokens_[i]) >= h_.n_vocab)
      fail(path, ": token ", i, " (", tokens_[i], ") is outside the file's vocabulary of ", h_.n_vocab);
  }
}

ChunkPlan LogProbReader::plan() const {
  ChunkPlan p;
  p.n_ctx = static_cast<int>(h_.n_ctx);
  p.n_chunk = static_cast<int>(h_.n_chunk);
  p.first = p.n_ctx / 2;
  return p;
}

BaseRow LogProbReader::row(size_t i) const {
  const uint8_t* p = file_.data() + rows_offset_ + i * row_bytes_;
  BaseRow r;
  r.top = static_cast<int32_t>(get_u32(p));
  r.top_logp = get_f32(p + 4);
  r.target_logp = get_f32(p + 8);
  r.tail = get_f32(p + 12);
  r.codes = p + kRowHeadBytes;
  return r;
}

void KlStats::add(const BaseRow& base, std::span<const float> logits, int32_t target) {
  const RowScore r = score_row(logits);
  const double nll_q = r.log_sum_exp - logits[static_cast<size_t>(target)];
  const double nll_b = -static_cast<double>(base.target_logp);
  nll.add(nll_q);
  nll_base.add(nll_b);
  sum_nll_product += nll_q * nll_b;

  // KL(base || model) = sum p_base (log p_base - log p_model). The entries
  // the base file keeps (within 16 nats of its top) are decoded and scaled to
  // sum to the kept share 1 - tail exactly, so that the base is a
  // distribution (the KL is never negative, and a model against its own file
  // gets the square of the codes' rounding, not its first power); the
  // entries below count as one outcome of probability `tail`.
  const double floor = static_cast<double>(base.top_logp) - kLogProbRange;
  lpb_.resize(logits.size());
  double mass = 0, tail_q = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const unsigned code = base.codes[2 * i] | static_cast<unsigned>(base.codes[2 * i + 1]) << 8;
    lpb_[i] = code == 0 ? -INFINITY : floor + code * static_cast<double>(kCodeStep);
    if (code != 0) mass += std::exp(lpb_[i]);
    else tail_q += std::exp(logits[i] - r.log_sum_exp);
  }
  const double tail_b = std::clamp(static_cast<double>(base.tail), 0.0, 1.0);
  const double shift = std::log1p(-tail_b) - std::log(mass);
  double kl = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (lpb_[i] == -INFINITY) continue;
    const double lp = lpb_[i] + shift;
    kl += std::exp(lp) * (lp - (logits[i] - r.log_sum_exp));
  }
  if (tail_b > 0 && tail_q > 0) kl += tail_b * std::log(tail_b / tail_q);
  sum_kld += kl;
  sum_kld2 += kl * kl;
  kld.push_back(kl);

  if (r.top == base.top) ++same_top;
  const double d = std::exp(-nll_q) - std::exp(-nll_b);
  sum_dp += d;
  sum_dp2 += d * d;
  sum_dp4 += d * d * d * d;
  dp.push_back(d);
}

}  // namespace frugal::runtime
