// Writer -> Reader round trips: every value type, nested arrays, tensor data,
// alignment, and the file layout other GGUF readers rely on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "base/error.h"
#include "base/mapped_file.h"
#include "gguf/reader.h"
#include "gguf/writer.h"

namespace frugal::gguf {
namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "/gguf_rt_" + std::to_string(::getpid()) + "_" + name + ".gguf";
}

Metadata every_value_type() {
  Metadata md;
  md.set("general.architecture", Value::make_string("llama"));
  md.set("t.u8", Value::make_u8(250));
  md.set("t.i8", Value::make_i8(-120));
  md.set("t.u16", Value::make_u16(65000));
  md.set("t.i16", Value::make_i16(-32000));
  md.set("t.u32", Value::make_u32(4000000000u));
  md.set("t.i32", Value::make_i32(-2000000000));
  md.set("t.f32", Value::make_f32(1.5e-5f));
  md.set("t.bool", Value::make_bool(true));
  md.set("t.string", Value::make_string(std::string("h\xc3\xa9llo\0world", 12)));
  md.set("t.u64", Value::make_u64(std::numeric_limits<uint64_t>::max()));
  md.set("t.i64", Value::make_i64(std::numeric_limits<int64_t>::min()));
  md.set("t.f64", Value::make_f64(3.141592653589793));
  md.set("t.empty_string", Value::make_string(""));
  md.set("t.strings", Value::make_string_array({"a", "", "\"quoted\"", "ünïcode"}));
  md.set("t.i32s", Value::make_i32_array({1, -2, 3}));
  md.set("t.f32s", Value::make_f32_array({0.5f, -1.25f}));
  md.set("t.empty_array", Value::make_string_array({}));
  md.set("t.u8s", Value::make_array(ValueType::UINT8, {Value::make_u8(1), Value::make_u8(255)}));
  md.set("t.bools", Value::make_array(ValueType::BOOL, {Value::make_bool(false), Value::make_bool(true)}));
  md.set("t.u64s", Value::make_array(ValueType::UINT64, {Value::make_u64(1ull << 40)}));
  md.set("t.f64s", Value::make_array(ValueType::FLOAT64, {Value::make_f64(-0.125)}));
  md.set("t.nested", Value::make_array(ValueType::ARRAY, {Value::make_i32_array({1, 2}), Value::make_i32_array({}),
                                                          Value::make_i32_array({3})}));
  md.set("t.nested_strings",
         Value::make_array(ValueType::ARRAY, {Value::make_array(ValueType::ARRAY, {Value::make_string_array({"x"})})}));
  return md;
}

TEST(GgufRoundTrip, EveryValueTypeAndArray) {
  const std::string path = temp_path("values");
  Writer w;
  const Metadata md = every_value_type();
  for (const auto& [k, v] : md.entries()) w.set(k, v);
  w.write(path);

  Reader r = Reader::open(path);
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 32u);
  EXPECT_EQ(r.architecture(), "llama");
  ASSERT_EQ(r.metadata().entries().size(), md.entries().size());
  for (size_t k = 0; k < md.entries().size(); ++k) {
    EXPECT_EQ(r.metadata().entries()[k].first, md.entries()[k].first);  // order kept
    EXPECT_TRUE(r.metadata().entries()[k].second == md.entries()[k].second) << md.entries()[k].first;
  }
  const Metadata& m = r.metadata();
  EXPECT_EQ(m.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(m.get_int("t.i32"), -2000000000);
  EXPECT_EQ(m.get_uint("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_FLOAT_EQ(static_cast<float>(m.get_float("t.f32")), 1.5e-5f);
  EXPECT_DOUBLE_EQ(m.get_float("t.u8"), 250.0);
  EXPECT_TRUE(m.get_bool("t.bool"));
  EXPECT_EQ(m.get_string("t.string").size(), 12u);
  EXPECT_EQ(m.get_string_array("t.strings")[3], "ünïcode");
  EXPECT_EQ(m.get_int_array("t.i32s"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(m.get_float_array("t.f32s"), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(m.get_array("t.nested").items[2].items[0].i, 3);
  EXPECT_EQ(m.get_array("t.nested_strings").items[0].items[0].items[0].s, "x");
  EXPECT_EQ(m.get_uint_or("t.absent", 7), 7u);
  // Conversions that do not fit are errors naming the key.
  EXPECT_THROW(m.get_uint("t.i8"), Error);
  EXPECT_THROW(m.get_int("t.u64"), Error);
  EXPECT_THROW(m.get_string("t.u8"), Error);
  try {
    m.get_uint("t.absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.absent"), std::string::npos);
  }
  ::unlink(path.c_str());
}

TEST(GgufRoundTrip, TensorsAndAlignment) {
  for (uint32_t alignment : {32u, 64u, 1u, 4096u}) {
    const std::string path = temp_path("tensors" + std::to_string(alignment));
    Writer w(alignment);
    w.set("general.architecture", Value::make_string("llama"));
    std::mt19937 rng(alignment);
    std::vector<float> a(3 * 5);
    for (auto& x : a) x = std::uniform_real_distribution<float>(-1, 1)(rng);
    std::vector<uint8_t> q(2 * 34);  // two q8_0 blocks
    for (auto& x : q) x = static_cast<uint8_t>(rng());
    std::vector<uint16_t> h(7);
    for (auto& x : h) x = static_cast<uint16_t>(rng());
    w.add_tensor_data("a.weight", TensorType::F32, {3, 5}, a.data());
    w.add_tensor_data("q.weight", TensorType::Q8_0, {32, 2}, q.data());
    w.add_tensor_data("h.weight", TensorType::F16, {7}, h.data());
    int calls = 0;
    w.add_tensor("produced", TensorType::F32, {4, 1, 2, 1}, [&](std::span<uint8_t> out) {
      ++calls;
      ASSERT_EQ(out.size(), 8u * 4);
      for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<uint8_t>(k);
    });
    w.write(path);
    EXPECT_EQ(calls, 1);

    Reader r = Reader::open(path);
    EXPECT_EQ(r.alignment(), alignment);
    if (alignment != 32) {
      EXPECT_EQ(r.metadata().get_uint("general.alignment"), alignment);
    } else {
      EXPECT_FALSE(r.metadata().has("general.alignment"));
    }
    EXPECT_EQ(r.data_offset() % alignment, 0u);
    ASSERT_EQ(r.tensors().size(), 4u);
    const TensorInfo& ta = r.tensor("a.weight");
    EXPECT_EQ(ta.shape, (std::vector<uint64_t>{3, 5}));
    EXPECT_EQ(ta.n_elements, 15u);
    EXPECT_EQ(ta.rows(), 5u);
    EXPECT_EQ(ta.n_bytes, 60u);
    EXPECT_EQ(std::memcmp(ta.data, a.data(), 60), 0);
    const TensorInfo& tq = r.tensor("q.weight");
    EXPECT_EQ(tq.type, TensorType::Q8_0);
    EXPECT_EQ(tq.n_bytes, 68u);
    EXPECT_EQ(std::memcmp(tq.data, q.data(), q.size()), 0);
    EXPECT_EQ(std::memcmp(r.tensor("h.weight").data, h.data(), 14), 0);
    const TensorInfo& tp = r.tensor("produced");
    EXPECT_EQ(tp.shape.size(), 4u);
    for (size_t k = 0; k < tp.n_bytes; ++k) EXPECT_EQ(tp.data[k], static_cast<uint8_t>(k));
    for (const auto& t : r.tensors()) {
      EXPECT_EQ(t.offset % alignment, 0u) << t.name;
      EXPECT_EQ((t.data - r.tensors()[0].data + r.data_offset()) % alignment, 0u);
    }
    EXPECT_EQ(r.find_tensor("absent"), nullptr);
    EXPECT_THROW(r.tensor("absent"), Error);

    // The header alone, without producing a tensor: the file's first bytes,
    // its size, and a reader of it that has every tensor but no data.
    const std::vector<uint8_t> head = w.header();
    EXPECT_EQ(calls, 1);
    MappedFile f(path);
    EXPECT_EQ(w.file_bytes(), f.size());
    ASSERT_EQ(head.size(), r.data_offset());
    EXPECT_EQ(std::memcmp(head.data(), f.data(), head.size()), 0);
    const Reader hr = Reader::parse_header(head.data(), head.size(), w.file_bytes(), "header");
    EXPECT_EQ(hr.file_size(), f.size());
    ASSERT_EQ(hr.tensors().size(), r.tensors().size());
    for (size_t k = 0; k < hr.tensors().size(); ++k) {
      EXPECT_EQ(hr.tensors()[k].name, r.tensors()[k].name);
      EXPECT_EQ(hr.tensors()[k].offset, r.tensors()[k].offset);
      EXPECT_EQ(hr.tensors()[k].data, nullptr);
    }
    // A size too small for the tensors, or for the header itself, is an error.
    const TensorInfo& last = hr.tensors().back();
    const uint64_t data_end = hr.data_offset() + last.offset + last.n_bytes;
    EXPECT_NO_THROW(Reader::parse_header(head.data(), head.size(), data_end, "exact"));
    EXPECT_THROW(Reader::parse_header(head.data(), head.size(), data_end - 1, "short"), Error);
    EXPECT_THROW(Reader::parse_header(head.data(), head.size(), head.size() - 1, "shorter"), Error);
    ::unlink(path.c_str());
  }
}

TEST(GgufRoundTrip, HeaderLayoutIsStandard) {
  // Check the first bytes by hand against the format: magic, version 3,
  // tensor count, kv count, then the first key.
  const std::string path = temp_path("layout");
  Writer w;
  w.set("general.architecture", Value::make_string("qwen3moe"));
  float x[2] = {1, 2};
  w.add_tensor_data("t", TensorType::F32, {2}, x);
  w.write(path);
  MappedFile f(path);
  const uint8_t* p = f.data();
  EXPECT_EQ(std::memcmp(p, "GGUF", 4), 0);
  uint32_t version;
  uint64_t n_tensors, n_kv, key_len;
  std::memcpy(&version, p + 4, 4);
  std::memcpy(&n_tensors, p + 8, 8);
  std::memcpy(&n_kv, p + 16, 8);
  std::memcpy(&key_len, p + 24, 8);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(n_tensors, 1u);
  EXPECT_EQ(n_kv, 1u);
  EXPECT_EQ(key_len, 20u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 32), 20), "general.architecture");
  EXPECT_EQ(f.size() % 32, 0u);
  ::unlink(path.c_str());
}

TEST(GgufRoundTrip, WriterRejectsBadTensorsAndLeavesNoFile) {
  Writer w;
  float x[32] = {};
  EXPECT_THROW(w.add_tensor_data("bad", TensorType::Q4_0, {31}, x), Error);
  EXPECT_THROW(w.add_tensor_data("bad", TensorType::F32, {}, x), Error);
  EXPECT_THROW(w.add_tensor_data("bad", TensorType::F32, {1, 1, 1, 1, 1}, x), Error);
  EXPECT_THROW(w.add_tensor_data("bad", TensorType::F32, {0}, x), Error);
  w.add_tensor_data("ok", TensorType::F32, {32}, x);
  EXPECT_THROW(w.add_tensor_data("ok", TensorType::F32, {32}, x), Error);
  EXPECT_THROW(Writer(3), Error);

  // A producer that throws: no file at PATH and no temporary file (PATH.tmp.PID) left behind.
  const std::string path = temp_path("throwing");
  Writer t;
  t.add_tensor("t", TensorType::F32, {4}, [](std::span<uint8_t>) { fail("producer failed"); });
  EXPECT_THROW(t.write(path), Error);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  EXPECT_NE(::access((path + ".tmp." + std::to_string(::getpid())).c_str(), F_OK), 0);
}

TEST(GgufRoundTrip, MetadataSetKeepsOrderAndErase) {
  Metadata md;
  md.set("a", Value::make_u32(1));
  md.set("b", Value::make_u32(2));
  md.set("a", Value::make_u32(3));
  ASSERT_EQ(md.size(), 2u);
  EXPECT_EQ(md.entries()[0].first, "a");
  EXPECT_EQ(md.get_uint("a"), 3u);
  md.erase("a");
  EXPECT_FALSE(md.has("a"));
  EXPECT_EQ(md.get_uint("b"), 2u);
  EXPECT_THROW(Value::make_array(ValueType::INT32, {Value::make_u8(1)}), Error);
}

}  // namespace
}  // namespace frugal::gguf
