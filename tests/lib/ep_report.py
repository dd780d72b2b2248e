"""The per-rank lines of frugal's expert-parallel report (cli/expert_parallel_flags.cc), as the
mpirun tests (tests/dist/*_test.sh) read them: PYTHONPATH=tests/lib, then `import ep_report`."""
import re

UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def size(s):
    """'12.77 MiB' -> bytes."""
    v, u = s.split()
    return float(v) * UNITS[u]


def rank_pages(path):
    """One dict per 'expert-parallel rank' line of the file, in rank order: the bytes mapped of
    the rank's own experts, of the other ranks' experts and of the other weights, each with the
    bytes there are (own, own_total, others, others_total, rest, rest_total)."""
    pages = []
    for line in open(path):
        if not line.startswith("expert-parallel rank"):
            continue
        m = re.search(r"own (.+?) of (.+?), others' (.+?) of (.+?) \| other weights mapped: (.+?) of (.+?) \|", line)
        assert m, line
        keys = ("own", "own_total", "others", "others_total", "rest", "rest_total")
        pages.append(dict(zip(keys, (size(g) for g in m.groups())), line=line.strip()))
    return pages
