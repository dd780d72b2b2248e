// frugal train: train (or fine-tune) a small qwen3moe MoE model on text files
// and export it to GGUF. Progress lines on stderr, metrics as JSON lines,
// atomic checkpoints that --resume continues from exactly.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <utility>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file_lock.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/output_file.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/metrics_log.h"
#include "gguf/reader.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/corpus_tokens.h"
#include "train/export.h"
#include "train/layers.h"
#include "train/trainer.h"

namespace frugal::cli {
namespace {

// The model-shape flags: each sets one ModelShape field, and with --init each
// must agree with the file's model (a disagreeing flag is an error, not ignored).
struct ShapeFlag {
  const char* flag;
  int64_t train::ModelShape::*field;
  const char* help;
};
constexpr ShapeFlag kShapeFlags[] = {
    {.flag = "--embd", .field = &train::ModelShape::n_embd, .help = "model width (default 128)"},
    {.flag = "--layers", .field = &train::ModelShape::n_layer, .help = "layers (default 2)"},
    {.flag = "--heads", .field = &train::ModelShape::n_head, .help = "attention heads (default 4)"},
    {.flag = "--heads-kv", .field = &train::ModelShape::n_head_kv, .help = "key/value heads (default 2)"},
    {.flag = "--head-dim", .field = &train::ModelShape::head_dim, .help = "width of one head (default 32)"},
    {.flag = "--experts", .field = &train::ModelShape::n_expert, .help = "experts per layer (default 4; 1 = dense)"},
    {.flag = "--experts-used", .field = &train::ModelShape::n_expert_used, .help = "experts per token (default 2)"},
    {.flag = "--ff-exp", .field = &train::ModelShape::n_ff_exp, .help = "expert FFN width (default 128)"},
    {.flag = "--shared-ff", .field = &train::ModelShape::n_ff_shexp,
     .help = "shared expert FFN width (default 0: none; > 0: qwen2moe layout)"},
    {.flag = "--ctx", .field = &train::ModelShape::n_ctx, .help = "context length of the model (default: max(128, --seq))"},
};

// A loaded model's shape in the flags' terms.
train::ModelShape shape_of(const model::ModelConfig& c) {
  return {.n_vocab = c.n_vocab, .n_embd = c.n_embd, .n_layer = c.n_layer, .n_head = c.n_head,
          .n_head_kv = c.n_head_kv, .head_dim = c.head_dim, .n_expert = c.n_expert,
          .n_expert_used = c.n_expert_used, .n_ff_exp = c.n_ff_exp, .n_ctx = c.n_ctx_train,
          .n_ff_shexp = c.n_ff_shexp, .arch = c.arch};
}

struct TrainArgs {
  std::vector<CLI::Option*> shape_options;  // parallel to kShapeFlags
  std::vector<std::string> data, val_data;
  std::string tokenizer, output, type = "f32", log, checkpoint, init, write_tokens;
  CLI::Option* val_split_option = nullptr;
  train::ModelShape shape;
  train::TrainOptions opts;
  float val_split = 0.1f;
  int threads = 0;
  int64_t eval_every = 0, checkpoint_every = 0, print_every = 10;
  bool resume = false;
  bool data_parallel = false;  // under mpirun: this rank trains on its share of each batch
  double rank_timeout = 120;
  double dp_bucket_mb = 4;  // with --data-parallel: gradient sum bucket size (0: one sum after the backward pass)
};

gguf::Metadata load_tokenizer_keys(const std::string& path) {
  gguf::Metadata md;
  if (path.ends_with(".json") || tokenizer::is_tiktoken_file(path)) {
    tokenizer::import_hf_tokenizer(path, md);
    return md;
  }
  gguf::Reader r = gguf::Reader::open(path);
  md = train::tokenizer_keys(r.metadata());
  if (!md.has("tokenizer.ggml.tokens")) fail("train: ", path, " holds no tokenizer (tokenizer.ggml.* keys)");
  return md;
}

// A file will be written at `path`: its folder must exist (checked before any
// work, not after a whole run).
void check_writable_place(const std::string& path, const char* flag) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!std::filesystem::is_directory(dir))
    fail("train: ", flag, " ", path, ": the folder ", dir.string(), " does not exist");
  if (std::filesystem::is_directory(path)) fail("train: ", flag, " ", path, " is a folder");
}

// Every flag checked before any work: a bad value is an error naming it.
void validate_args(const TrainArgs& a) {
  if (a.data.empty()) fail("train: --data is required");
  const train::TrainOptions& o = a.opts;
  if (o.steps <= 0) fail("train: --steps must be positive (got ", o.steps, ")");
  if (o.batch <= 0) fail("train: --batch must be positive (got ", o.batch, ")");
  if (o.seq_len <= 0) fail("train: --seq must be positive (got ", o.seq_len, ")");
  if (o.accum <= 0) fail("train: --accum must be positive (got ", o.accum, ")");
  if (!(o.schedule.lr > 0.0f) || !std::isfinite(o.schedule.lr))
    fail("train: --lr must be a positive number (got ", o.schedule.lr, ")");
  if (!(o.schedule.min_lr_ratio >= 0.0f && o.schedule.min_lr_ratio <= 1.0f))
    fail("train: --min-lr-ratio must be in [0, 1] (got ", o.schedule.min_lr_ratio, ")");
  if (o.schedule.warmup_steps < 0) fail("train: --warmup must be >= 0 (got ", o.schedule.warmup_steps, ")");
  if (!(o.adam.weight_decay >= 0.0f) || !std::isfinite(o.adam.weight_decay))
    fail("train: --weight-decay must be >= 0 (got ", o.adam.weight_decay, ")");
  if (!(o.clip >= 0.0f)) fail("train: --clip must be >= 0 (0 = off; got ", o.clip, ")");
  if (!(o.router.aux_coef >= 0.0f) || !std::isfinite(o.router.aux_coef))
    fail("train: --aux-coef must be >= 0 (got ", o.router.aux_coef, ")");
  if (!(o.router.z_coef >= 0.0f) || !std::isfinite(o.router.z_coef))
    fail("train: --z-coef must be >= 0 (got ", o.router.z_coef, ")");
  if (!(o.bias_rate >= 0.0f) || !std::isfinite(o.bias_rate) || (o.bias_balance && o.bias_rate == 0.0f))
    fail("train: --bias-rate must be positive (got ", o.bias_rate, ")");
  if (o.eval_batches <= 0) fail("train: --eval-batches must be positive (got ", o.eval_batches, ")");
  if (a.init.empty()) {
    const train::ModelShape& s = a.shape;
    const std::pair<const char*, int64_t> positive[] = {
        {"--embd", s.n_embd},       {"--layers", s.n_layer},    {"--heads", s.n_head},
        {"--heads-kv", s.n_head_kv}, {"--head-dim", s.head_dim}, {"--experts", s.n_expert},
        {"--experts-used", s.n_expert_used}, {"--ff-exp", s.n_ff_exp}};
    for (const auto& [flag, value] : positive)
      if (value <= 0) fail("train: ", flag, " must be positive (got ", value, ")");
    if (s.n_expert_used > s.n_expert)
      fail("train: --experts-used ", s.n_expert_used, " exceeds --experts ", s.n_expert);
    if (s.n_head % s.n_head_kv != 0)
      fail("train: --heads ", s.n_head, " must be a multiple of --heads-kv ", s.n_head_kv, " (n_head % n_head_kv)");
    if (s.head_dim % 2 != 0) fail("train: --head-dim must be even (RoPE rotates pairs; got ", s.head_dim, ")");
    if (s.n_ff_shexp < 0) fail("train: --shared-ff must be >= 0 (got ", s.n_ff_shexp, ")");
    if (s.n_ctx < 0) fail("train: --ctx must be positive (got ", s.n_ctx, ")");
    if (s.n_ctx > 0 && s.n_ctx < o.seq_len) fail("train: --ctx ", s.n_ctx, " is shorter than --seq ", o.seq_len);
    // An unknown --arch, or a shared expert its layout has no place for:
    // refused here, before the tokenizer and the data are read.
    train::ModelShape probe = s;
    probe.n_ctx = std::max<int64_t>({probe.n_ctx, 128, o.seq_len});
    train::make_config(probe);
  }
  if (!(a.val_split >= 0.0f && a.val_split < 0.5f)) fail("train: --val-split must be in [0, 0.5)");
  if (a.threads < 0) fail("train: -t must be positive");
  if (!(a.dp_bucket_mb >= 0) || a.dp_bucket_mb > 1e6)
    fail("train: --dp-bucket-mb must be between 0 and 1e6 (got ", a.dp_bucket_mb, ")");
  if (a.resume && a.checkpoint.empty()) fail("train: --resume needs --checkpoint FILE");
  if (a.eval_every < 0 || a.checkpoint_every < 0 || a.print_every <= 0)
    fail("train: --eval-every and --checkpoint-every must be >= 0, --print-every > 0");
  if (!a.write_tokens.empty()) {
    if (a.data_parallel) fail("train: --write-tokens runs in one process: drop --data-parallel");
    check_writable_place(a.write_tokens, "--write-tokens");
    return;  // the run stops once the file is written: nothing else is made
  }
  if (a.output.empty()) fail("train: -o is required (the model to write)");
  check_writable_place(a.output, "-o");
  if (!a.checkpoint.empty()) check_writable_place(a.checkpoint, "--checkpoint");
  if (!a.log.empty()) check_writable_place(a.log, "--log");
}

int run_train(TrainArgs& a) {
  const auto type = parse_tensor_type(a.type);
  if (!type || (*type != TensorType::F32 && *type != TensorType::F16 && *type != TensorType::Q8_0))
    fail("train: --type must be f32, f16 or q8_0 (got '", a.type, "')");
  validate_args(a);
  // Data-parallel: every rank trains the same model on its share of each
  // batch; rank 0 alone prints, logs, checkpoints and exports.
  dist::ProcessGroup* group = a.data_parallel ? &join_ranks(a.rank_timeout) : nullptr;
  if (group) a.opts.data_parallel = group;
  a.opts.dp_bucket_bytes = static_cast<size_t>(a.dp_bucket_mb * 1e6);
  const bool primary = !group || group->rank() == 0;
  if (group) log_info("train: data-parallel over ", group->n_ranks(), " ranks, each ", a.opts.batch / group->n_ranks(), " of the ", a.opts.batch, " sequences of a batch");
  // Held for the whole run: a second trainer on this checkpoint stops here,
  // before it could overwrite the first one's progress.
  std::optional<FileLock> checkpoint_lock;
  if (!a.checkpoint.empty() && primary) checkpoint_lock.emplace(a.checkpoint, "train: the checkpoint");
  if (a.opts.bf16_products && !train::bf16_products_native())
    fail("train: --bf16 needs a CPU with AVX512_BF16 (vdpbf16ps), which this one lacks; train in f32 without it");
  const int n_threads = a.threads > 0 ? a.threads : ThreadPool::available_cpus();
  ThreadPool pool(n_threads);
  train::set_blas_threads(n_threads);

  // Tokenizer and model configuration (from --init's file, or the flags).
  std::optional<train::ImportedModel> init;
  gguf::Metadata tok_md;
  model::ModelConfig cfg;
  if (!a.init.empty()) {
    init = train::import_gguf(a.init);
    cfg = init->config;
    const train::ModelShape file_shape = shape_of(cfg);
    for (size_t i = 0; i < std::size(kShapeFlags); ++i) {
      const ShapeFlag& f = kShapeFlags[i];
      if (a.shape_options[i]->count() > 0 && a.shape.*f.field != file_shape.*f.field)
        fail("train: ", f.flag, " ", a.shape.*f.field, " disagrees with ", a.init, " (", file_shape.*f.field,
             "); --init takes the model's shape from the file: drop the flag or give the file's value");
    }
    if (!a.shape.arch.empty() && a.shape.arch != cfg.arch)
      fail("train: --arch ", a.shape.arch, " disagrees with ", a.init, " (", cfg.arch,
           "); --init keeps the file's architecture: drop the flag or give the file's");
    tok_md = a.tokenizer.empty() ? init->tokenizer : load_tokenizer_keys(a.tokenizer);
    if (a.opts.seq_len > cfg.n_ctx_train)
      fail("train: --seq ", a.opts.seq_len, " exceeds the context ", cfg.n_ctx_train, " of ", a.init);
  } else {
    if (a.tokenizer.empty()) fail("train: --tokenizer is required (a GGUF with tokenizer keys or a tokenizer.json)");
    tok_md = load_tokenizer_keys(a.tokenizer);
  }
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(tok_md);
  if (init) {
    if (tok.n_vocab() > cfg.n_vocab)
      fail("train: the tokenizer has ", tok.n_vocab(), " tokens, the model only ", cfg.n_vocab);
  } else {
    a.shape.n_vocab = tok.n_vocab();
    if (a.shape.n_ctx == 0) a.shape.n_ctx = std::max<int64_t>(128, a.opts.seq_len);
    cfg = train::make_config(a.shape);
  }
  train::check_export_type(train::ParamLayout(cfg), *type);  // before the run, not after it
  if (init && !init->selection_bias.empty() && !a.opts.bias_balance)
    fail("train: ", a.init, " routes with a per-expert selection bias (exp_probs_b, from --bias-balance); "
         "fine-tune it with --bias-balance so the model keeps routing the way it was trained");

  // Data: text tokenised here, or a token file (--write-tokens) read at
  // offsets, each rank its own sequences' windows only.
  train::TokenStream train_data, val_data;
  std::string token_file;
  if (a.data.size() == 1 && train::TokenFile::is_one(a.data[0])) {
    if (!a.val_data.empty() || a.val_split_option->count() > 0)
      fail("train: ", a.data[0], " is a token file, which holds its validation ids: drop --val-data and --val-split");
    train::TokenFile f = train::TokenFile::open(a.data[0]);
    if (f.n_vocab != tok.n_vocab())
      fail("train: token file ", a.data[0], " was written with a vocabulary of ", f.n_vocab, " tokens; the tokenizer has ",
           tok.n_vocab());
    train_data = std::move(f.train);
    val_data = std::move(f.val);
    token_file = a.data[0];
  } else {
    for (const std::string& path : a.data)
      if (train::TokenFile::is_one(path))
        fail("train: ", path, " is a token file: give it as the only --data");
    std::vector<int32_t> train_ids = train::tokenize_files(a.data, tok), val_ids;
    if (!a.val_data.empty()) {
      val_ids = train::tokenize_files(a.val_data, tok);
    } else if (a.val_split > 0.0f) {
      const size_t n_val = static_cast<size_t>(static_cast<double>(train_ids.size()) * a.val_split);
      if (n_val > static_cast<size_t>(a.opts.seq_len + 1)) {
        val_ids.assign(train_ids.end() - static_cast<std::ptrdiff_t>(n_val), train_ids.end());
        train_ids.resize(train_ids.size() - n_val);
      }
    }
    if (!a.write_tokens.empty()) {
      train::TokenFile::write(a.write_tokens, train_ids, val_ids, tok.n_vocab());
      std::printf("wrote %s (%zu training and %zu validation token ids)\n", a.write_tokens.c_str(), train_ids.size(),
                  val_ids.size());
      return 0;
    }
    train_data = std::move(train_ids);
    val_data = std::move(val_ids);
  }
  if (!a.write_tokens.empty()) fail("train: --data ", a.data[0], " is a token file already");
  if (a.eval_every > 0 && val_data.empty()) fail("train: --eval-every needs validation data (too little text?)");

  train::Trainer trainer(cfg, a.opts, std::move(train_data), std::move(val_data), &pool);
  if (init) trainer.params() = init->params;
  if (init && !init->selection_bias.empty()) trainer.selection_bias() = init->selection_bias;
  bool resumed = false;
  if (a.resume && std::filesystem::exists(a.checkpoint)) {
    train::load_checkpoint(a.checkpoint, trainer);
    resumed = true;
  }
  if (primary)
    std::fprintf(stderr,
               "train: %s %lld layers, n_embd %lld, %lld heads (%lld kv) x %lld, %lld experts top-%lld x %lld, "
               "vocab %lld, ctx %lld\n"
               "train: %s parameters (%s active per token); %s training tokens; batch %lld x %lld x accum %lld; "
               "%d threads%s\n",
               cfg.arch.c_str(), (long long)cfg.n_layer, (long long)cfg.n_embd, (long long)cfg.n_head, (long long)cfg.n_head_kv,
               (long long)cfg.head_dim, (long long)cfg.n_expert, (long long)cfg.n_expert_used,
               (long long)cfg.n_ff_exp, (long long)cfg.n_vocab, (long long)cfg.n_ctx_train,
               human_count(double(cfg.n_params())).c_str(), human_count(double(cfg.n_active_params())).c_str(),
               human_count(double(trainer.train_tokens())).c_str(), (long long)a.opts.batch,
               (long long)a.opts.seq_len, (long long)a.opts.accum, n_threads,
               resumed ? (", resumed at step " + std::to_string(trainer.steps_done())).c_str() : "");

  std::ofstream log;
  // Training time so far, evaluation left out: the x axis of loss against
  // wall-clock time (frugal plot --x seconds), carried over a resume by the log.
  double train_seconds = 0.0;
  if (!a.log.empty() && primary) {
    if (resumed) train_seconds = truncate_log_to_step(a.log, trainer.steps_done());
    log.open(a.log, resumed ? std::ios::app : std::ios::trunc);
    if (!log) fail("train: cannot write the metrics log '", a.log, "'");
  }

  // The untrained model's validation loss: the curve's starting point.
  if (a.eval_every > 0 && trainer.steps_done() == 0) {
    const train::EvalStats ev = trainer.evaluate();
    if (primary) std::fprintf(stderr, "step 0/%lld  val %.4f (ppl %.2f)\n", (long long)a.opts.steps, ev.loss, ev.ppl);
    if (log.is_open()) {
      const nlohmann::json rec = {{"step", 0},           {"tokens", 0},            {"seconds", 0.0},
                                  {"lr", nullptr},       {"train_loss", nullptr},
                                  {"aux_loss", nullptr}, {"z_loss", nullptr},      {"grad_norm", nullptr},
                                  {"tokens_per_second", nullptr}, {"val_loss", ev.loss}, {"val_ppl", ev.ppl},
                                  {"expert_load", ev.expert_load}, {"router_entropy", ev.router_entropy}};
      log << rec.dump() << "\n";
    }
  }

  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto t_window = t_start;
  int64_t window_tokens = 0, window_steps = 0;
  const int64_t first_step = trainer.steps_done();
  double last_val = NAN;
  while (trainer.steps_done() < a.opts.steps) {
    const train::StepStats st = trainer.step();
    window_tokens += st.tokens;
    ++window_steps;
    const bool last = st.step == a.opts.steps;
    const bool eval_now = a.eval_every > 0 && (st.step % a.eval_every == 0 || last);
    const bool print_now = st.step % a.print_every == 0 || last || eval_now;
    if (print_now) {
      const double secs = std::chrono::duration<double>(clock::now() - t_window).count();
      const double tps = secs > 0 ? static_cast<double>(window_tokens) / secs : 0.0;
      const double total_secs = std::chrono::duration<double>(clock::now() - t_start).count();
      const double per_step = total_secs / static_cast<double>(st.step - first_step);
      nlohmann::json rec;
      train_seconds += secs;
      rec["step"] = st.step;
      rec["tokens"] = st.step * a.opts.batch * a.opts.seq_len * a.opts.accum;  // every rank's, under --data-parallel
      rec["seconds"] = train_seconds;
      rec["lr"] = st.lr;
      rec["train_loss"] = st.loss;
      rec["aux_loss"] = st.aux_loss;
      rec["z_loss"] = st.z_loss;
      rec["grad_norm"] = st.grad_norm;
      rec["tokens_per_second"] = tps;
      rec["val_loss"] = nullptr;
      rec["val_ppl"] = nullptr;
      rec["expert_load"] = st.expert_load;
      rec["router_entropy"] = st.router_entropy;
      std::string val_text;
      if (eval_now) {
        const train::EvalStats ev = trainer.evaluate();
        last_val = ev.loss;
        rec["val_loss"] = ev.loss;
        rec["val_ppl"] = ev.ppl;
        rec["expert_load"] = ev.expert_load;
        rec["router_entropy"] = ev.router_entropy;
        char buf[96];
        std::snprintf(buf, sizeof buf, "  val %.4f (ppl %.2f)", ev.loss, ev.ppl);
        val_text = buf;
        std::string loads;
        for (size_t l = 0; l < ev.expert_load.size(); ++l) {
          loads += "  L" + std::to_string(l) + " [";
          for (size_t e = 0; e < ev.expert_load[l].size(); ++e) {
            char b[16];
            std::snprintf(b, sizeof b, "%s%.2f", e ? " " : "", ev.expert_load[l][e]);
            loads += b;
          }
          char b[32];
          std::snprintf(b, sizeof b, "] H %.2f", ev.router_entropy[l]);
          loads += b;
        }
        val_text += "\n      expert load" + loads;
      }
      if (primary)
        std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  ETA %s%s\n",
                   (long long)st.step, (long long)a.opts.steps, st.loss, st.lr, st.grad_norm, tps,
                   eta_text(per_step * static_cast<double>(a.opts.steps - st.step)).c_str(), val_text.c_str());
      if (log.is_open()) {
        log << rec.dump() << "\n";
        log.flush();
      }
      t_window = clock::now();
      window_tokens = 0;
      window_steps = 0;
    }
    if (!a.checkpoint.empty() && primary && ((a.checkpoint_every > 0 && st.step % a.checkpoint_every == 0) || last))
      train::save_checkpoint(a.checkpoint, trainer);
  }

  // With --bias-balance the selection bias goes into the file (exp_probs_b),
  // so the exported model routes exactly as the trained one.
  // What each rank read of a token file: under --data-parallel, its own
  // sequences' windows (docs/DISTRIBUTED.md); rank 0 says it for all.
  if (!token_file.empty()) {
    const std::vector<double> mine = {static_cast<double>(trainer.train_stream().ids_read()),
                                      static_cast<double>(trainer.val_stream().ids_read())};
    const std::vector<double> all = group ? group->gather(mine) : mine;
    std::string train_read, val_read;
    for (size_t r = 0; r + 1 < all.size(); r += 2) {
      train_read += (r ? " " : "") + std::to_string(static_cast<int64_t>(all[r]));
      val_read += (r ? " " : "") + std::to_string(static_cast<int64_t>(all[r + 1]));
    }
    log_info("train: ids read of the ", trainer.train_tokens() + trainer.val_tokens(), " in ", token_file,
             group ? ", rank by rank" : "", ": training ", train_read, ", validation ", val_read);
  }
  if (group) {
    const dist::CommStats cs = group->stats();
    log_info("train: rank 0 started ", cs.sums, " sums (gradient buckets, losses), sent ",
             human_bytes(static_cast<double>(cs.bytes_sent)), ", waited ", cs.sum_seconds, " s for them");
  }
  const std::span<const float> bias =
      a.opts.bias_balance ? std::span<const float>(trainer.selection_bias()) : std::span<const float>();
  if (primary) train::export_gguf(a.output, trainer.layout(), trainer.params().data(), tok_md, *type, bias);
  const double total = std::chrono::duration<double>(clock::now() - t_start).count();
  std::printf("wrote %s (%s, %s parameters) after %lld steps in %.1f s", a.output.c_str(), a.type.c_str(),
              human_count(double(cfg.n_params())).c_str(), (long long)trainer.steps_done(), total);
  if (std::isfinite(last_val)) std::printf(", validation loss %.4f", last_val);
  std::printf("\n");
  return 0;
}

const CommandRegistration kTrain{
    "train", "train (or fine-tune) a small MoE model on text and export GGUF", [](CLI::App& app) {
      auto a = std::make_shared<TrainArgs>();
      app.add_option("--data", a->data, "training text files, or one token file (--write-tokens)")->required();
      app.add_option("--tokenizer", a->tokenizer, "a GGUF holding tokenizer.ggml.* keys, or a tokenizer.json");
      app.add_option("--val-data", a->val_data, "validation text files (default: the last --val-split of --data)");
      a->val_split_option =
          app.add_option("--val-split", a->val_split, "share of the data held out for validation (default 0.1)");
      app.add_option("-o,--output", a->output, "output GGUF model (required unless --write-tokens)");
      app.add_option("--write-tokens", a->write_tokens,
                     "tokenise --data (and --val-data or --val-split) into this token file and stop; a later "
                     "--data FILE reads it at offsets, each data-parallel rank only its own sequences");
      app.add_option("--type", a->type, "exported weight type: f32 (default), f16 or q8_0");
      a->shape.n_ctx = 0;  // unset: max(128, --seq)
      for (const ShapeFlag& f : kShapeFlags)
        a->shape_options.push_back(app.add_option(f.flag, a->shape.*f.field, f.help));
      auto& o = a->opts;
      app.add_option("--steps", o.steps, "optimizer steps (default 100)");
      app.add_option("--batch", o.batch, "sequences per micro-batch (default 8)");
      app.add_option("--seq", o.seq_len, "tokens per sequence (default 64)");
      app.add_option("--accum", o.accum, "micro-batches per optimizer step (default 1)");
      app.add_option("--lr", o.schedule.lr, "peak learning rate (default 3e-3)");
      app.add_option("--min-lr-ratio", o.schedule.min_lr_ratio, "cosine floor as a share of --lr (default 0.1)");
      app.add_option("--warmup", o.schedule.warmup_steps, "linear warm-up steps (default 0)");
      app.add_option("--weight-decay", o.adam.weight_decay, "AdamW weight decay of matrices (default 0.1)");
      app.add_option("--clip", o.clip, "global gradient norm limit, 0 = off (default 1)");
      app.add_option("--aux-coef", o.router.aux_coef, "load-balancing loss coefficient (default 0.01)");
      app.add_option("--z-coef", o.router.z_coef, "router z-loss coefficient (default 0.001)");
      app.add_flag("--bias-balance", o.bias_balance,
                   "auxiliary-loss-free balancing (per-expert selection bias, exported as blk.N.exp_probs_b.bias)");
      app.add_option("--bias-rate", o.bias_rate, "selection bias step per optimizer step (default 1e-3)");
      app.add_flag("--bf16", o.bf16_products,
                   "matrix products in bf16 with f32 sums, master weights, gradients and optimizer state in f32 "
                   "(needs a CPU with AVX512_BF16)");
      app.add_option("--seed", o.seed, "random seed (initialisation and batches; default 1)");
      app.add_option("--eval-batches", o.eval_batches, "validation batches per evaluation (default 4)");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("--eval-every", a->eval_every, "evaluate every N steps (default 0: never)");
      app.add_option("--print-every", a->print_every, "progress line every N steps (default 10)");
      app.add_option("--log", a->log, "metrics as JSON lines");
      app.add_option("--checkpoint", a->checkpoint, "checkpoint file (written at the end and every N steps)");
      app.add_option("--checkpoint-every", a->checkpoint_every, "checkpoint every N steps (default 0: end only)");
      app.add_flag("--resume", a->resume, "continue from --checkpoint when it exists");
      app.add_flag("--data-parallel", a->data_parallel,
                   "under mpirun: each rank computes its share of every batch, gradients summed over the ranks "
                   "(docs/DISTRIBUTED.md)");
      app.add_option("--rank-timeout", a->rank_timeout,
                     "with --data-parallel: seconds a rank waits for the others at one sum before ending the job "
                     "(default 120)");
      app.add_option("--dp-bucket-mb", a->dp_bucket_mb,
                     "with --data-parallel: sum the gradient in buckets of this many MB as the backward pass "
                     "finishes them, overlapping it (default 4; 0: one sum after the pass)");
      app.add_option("--init", a->init, "start from this exported GGUF model (fine-tuning)");
      app.add_option("--arch", a->shape.arch,
                     "layout of a new model: " + train::new_model_architecture_names() +
                         " (default qwen3moe; qwen2moe with --shared-ff)");
      return [a] { return run_train(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
