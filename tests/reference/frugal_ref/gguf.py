"""A small GGUF reader (and writer, for tests that edit metadata).

The format: "GGUF", u32 version (2 or 3), u64 tensor count, u64 key-value
count; then the key-values (string key, u32 value type, value), the tensor
infos (string name, u32 n_dims, u64 dims in ggml order i.e. dims[0] is the
row length, u32 tensor type, u64 offset into the data section), padding to
general.alignment (default 32), and the data section. Little-endian throughout.
"""
import struct

from . import dequant

# Value types of the key-value section.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}


class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        if self.pos + n > len(self.buf):
            raise ValueError("gguf: string runs past the end of the file")
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype in _SCALAR:
            return self.take(_SCALAR[vtype])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            etype = self.take("<I")
            count = self.take("<Q")
            return (etype, [self.value(etype) for _ in range(count)])
        raise ValueError(f"gguf: unknown value type {vtype}")


class TensorInfo:
    def __init__(self, name, dims, ttype, offset):
        self.name = name
        self.dims = dims          # ggml order: dims[0] is the row length
        self.type = ttype
        self.offset = offset      # within the data section

    @property
    def n_elements(self):
        n = 1
        for d in self.dims:
            n *= d
        return n


class GGUFFile:
    """metadata: {key: value} (arrays as Python lists); types: {key: (vtype, elem type or None)};
    tensors: {name: TensorInfo}. tensor(name) gives a float64 array in numpy order
    (dims reversed: a [n_in, n_out] ggml matrix is an (n_out, n_in) array)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        c = _Cursor(self.buf)
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        c.pos = 4
        self.version = c.take("<I")
        if self.version not in (2, 3):
            raise ValueError(f"{path}: GGUF version {self.version} is not supported")
        n_tensors = c.take("<Q")
        n_kv = c.take("<Q")
        self.metadata = {}
        self.types = {}
        for _ in range(n_kv):
            key = c.string()
            vtype = c.take("<I")
            v = c.value(vtype)
            if vtype == ARRAY:
                self.types[key] = (ARRAY, v[0])
                v = v[1]
            else:
                self.types[key] = (vtype, None)
            self.metadata[key] = v
        self.tensors = {}
        self.order = []
        for _ in range(n_tensors):
            name = c.string()
            n_dims = c.take("<I")
            dims = [c.take("<Q") for _ in range(n_dims)]
            ttype = c.take("<I")
            offset = c.take("<Q")
            self.tensors[name] = TensorInfo(name, dims, ttype, offset)
            self.order.append(name)
        self.alignment = int(self.metadata.get("general.alignment", 32))
        self.data_start = (c.pos + self.alignment - 1) // self.alignment * self.alignment

    def raw(self, name):
        """The stored bytes of a tensor."""
        t = self.tensors[name]
        nbytes = dequant.tensor_bytes(t.type, t.dims)
        start = self.data_start + t.offset
        if start + nbytes > len(self.buf):
            raise ValueError(f"gguf: tensor {name} runs past the end of the file")
        return self.buf[start:start + nbytes]

    def tensor(self, name):
        t = self.tensors[name]
        flat = dequant.dequantize(t.type, self.raw(name), t.n_elements)
        return flat.reshape(tuple(reversed(t.dims)))

    def has(self, name):
        return name in self.tensors


def read_gguf(path):
    return GGUFFile(path)


def _pack_value(vtype, v, etype=None):
    if vtype in _SCALAR:
        return struct.pack(_SCALAR[vtype], v)
    if vtype == STRING:
        b = v.encode("utf-8")
        return struct.pack("<Q", len(b)) + b
    if vtype == ARRAY:
        return struct.pack("<IQ", etype, len(v)) + b"".join(_pack_value(etype, x) for x in v)
    raise ValueError(f"gguf: unknown value type {vtype}")


def write_gguf(path, src, extra_metadata=()):
    """Writes a copy of GGUFFile `src` with its tensors unchanged and
    extra_metadata, a list of (key, vtype, value), added or replacing keys."""
    md = dict(src.metadata)
    types = dict(src.types)
    for key, vtype, value in extra_metadata:
        md[key] = value
        types[key] = (vtype, None)
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(src.order), len(md)))
    for key, value in md.items():
        vtype, etype = types[key]
        out += _pack_value(STRING, key) + struct.pack("<I", vtype) + _pack_value(vtype, value, etype)
    align = int(md.get("general.alignment", 32))
    offset = 0
    blobs = []
    for name in src.order:
        t = src.tensors[name]
        out += _pack_value(STRING, name) + struct.pack("<I", len(t.dims))
        out += b"".join(struct.pack("<Q", d) for d in t.dims) + struct.pack("<IQ", t.type, offset)
        blob = src.raw(name)
        blobs.append(blob)
        offset += (len(blob) + align - 1) // align * align
    out += b"\0" * (-len(out) % align)
    for blob in blobs:
        out += blob + b"\0" * (-len(blob) % align)
    with open(path, "wb") as f:
        f.write(out)
