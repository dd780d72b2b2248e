#!/usr/bin/env bash
# frugal data from the command line: fortune files and plain text in, clean
# deduplicated train/val files out, statistics on stderr, the same files on a
# second run, clear errors for bad input.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

mkdir -p "$dir/in/off"
printf 'An apple a day keeps the doctor away.\n%%\nA stitch in time saves nine, they say.\n%%\nAn apple a day keeps the doctor away.\n%%\nCaf\x65\xcc\x81 au lait with a bell\x07 and a bad \xff byte.\n%%\n' >"$dir/in/proverbs"
printf 'x\n' >"$dir/in/proverbs.dat"
printf 'This rude fortune must never be read.\n%%\n' >"$dir/in/off/rude"
printf 'First paragraph of the plain text file.\n\nSecond   paragraph,\twith odd   spacing.   \n' >"$dir/plain.txt"

"$FRUGAL" data "$dir/in" "$dir/plain.txt" --val-fraction 0.3 --seed 1 -o "$dir/corpus" >"$dir/stdout" 2>"$dir/stderr" \
  || { cat "$dir/stderr"; fail "data exited non-zero"; }
grep -q "read 2 files" "$dir/stderr" || { cat "$dir/stderr"; fail "file count (index and off/ files must be skipped)"; }
grep -q ", 6 documents" "$dir/stderr" || { cat "$dir/stderr"; fail "document count"; }
grep -q "1 exact duplicates" "$dir/stderr" || { cat "$dir/stderr"; fail "exact duplicate count"; }
grep -q "removed 1 invalid UTF-8 bytes, 1 control characters" "$dir/stderr" || { cat "$dir/stderr"; fail "cleaning counts"; }
grep -q "kept 5 documents" "$dir/stderr" || { cat "$dir/stderr"; fail "kept count"; }
all=$(cat "$dir/corpus/train.txt" "$dir/corpus/val.txt")
grep -q "rude" <<<"$all" && fail "the offensive folder was read"
[[ $(grep -c '^<|endoftext|>$' <<<"$all") -eq 5 ]] || fail "one separator line per document"
grep -q "^Second paragraph, with odd spacing.$" <<<"$all" || fail "white space not normalised"
grep -q $'^Caf\xc3\xa9 au lait with a bell and a bad  byte.$' <<<"$all" \
  || grep -q $'^Caf\xc3\xa9 au lait with a bell and a bad byte.$' <<<"$all" || fail "NFC / control / invalid bytes"
/usr/bin/python3 -c "import sys; [open(f, encoding='utf-8', errors='strict').read() for f in sys.argv[1:]]" \
  "$dir/corpus/train.txt" "$dir/corpus/val.txt" || fail "output is not valid UTF-8"

# Deterministic: a second run writes the same files.
"$FRUGAL" -q data "$dir/in" "$dir/plain.txt" --val-fraction 0.3 --seed 1 -o "$dir/corpus2" >/dev/null 2>&1
cmp -s "$dir/corpus/train.txt" "$dir/corpus2/train.txt" && cmp -s "$dir/corpus/val.txt" "$dir/corpus2/val.txt" \
  || fail "two runs differ"

# The output folder inside the input folder: the next run skips it, so it
# reads the same file and writes the same corpus (no doubled documents).
"$FRUGAL" data "$dir/in" --seed 1 -o "$dir/in/corpus" >/dev/null 2>&1 || fail "data into its input folder"
cp "$dir/in/corpus/train.txt" "$dir/first.txt"
"$FRUGAL" data "$dir/in" --seed 1 -o "$dir/in/corpus" >/dev/null 2>"$dir/stderr" || fail "second run"
grep -q "read 1 files" "$dir/stderr" || { cat "$dir/stderr"; fail "the output folder was read as input"; }
grep -q "kept 3 documents" "$dir/stderr" || { cat "$dir/stderr"; fail "the last corpus came back as documents"; }
cmp -s "$dir/first.txt" "$dir/in/corpus/train.txt" || fail "the second run changed the corpus"
# An earlier corpus under another name is cut at its separators: dedup sees its documents.
"$FRUGAL" data "$dir/in" --seed 1 -o "$dir/in/corpus2" >/dev/null 2>"$dir/stderr" || fail "third run"
grep -q "read 3 files ([12] written by frugal data" "$dir/stderr" || { cat "$dir/stderr"; fail "own format not recognised"; }
grep -q "kept 3 documents" "$dir/stderr" || { cat "$dir/stderr"; fail "the earlier corpus doubled the documents"; }

# A device as input: no absurd size in the progress line.
"$FRUGAL" data /dev/null -o "$dir/null" >/dev/null 2>"$dir/stderr" || fail "data /dev/null"
if grep -q "TiB" "$dir/stderr"; then cat "$dir/stderr"; fail "progress of /dev/null"; fi

# HTML by its name: tags and the head go, entities decode, <pre> kept or (--drop-code) dropped.
printf '<html><head><title>Page</title></head><body><p>Fish &amp; chips\nare <em>served</em> hot.</p>\n<pre>x = [1, 2, 3]\nprint(x)</pre></body></html>\n' >"$dir/page.html"
"$FRUGAL" data "$dir/page.html" --val-fraction 0 -o "$dir/html" >/dev/null 2>"$dir/stderr" || fail "data page.html"
grep -q "(1 read as HTML/XML)" "$dir/stderr" || { cat "$dir/stderr"; fail "html not read as markup"; }
grep -qx "Fish & chips are served hot." "$dir/html/train.txt" || { cat "$dir/html/train.txt"; fail "html to text"; }
grep -qx "print(x)" "$dir/html/train.txt" || fail "<pre> not kept"
grep -q "Page" "$dir/html/train.txt" && fail "the head was kept"
"$FRUGAL" data "$dir/page.html" --drop-code --val-fraction 0 -o "$dir/html2" >/dev/null 2>&1 || fail "--drop-code"
grep -q "print" "$dir/html2/train.txt" && fail "--drop-code kept the <pre> block"
"$FRUGAL" data "$dir/page.html" --markup text --val-fraction 0 -o "$dir/html3" >/dev/null 2>&1 || fail "--markup text"
grep -q "<em>served</em>" "$dir/html3/train.txt" || fail "--markup text stripped tags"

expect_error "does not exist" data "$dir/missing" -o "$dir/x"
expect_error "unknown markup mode 'md'" data "$dir/page.html" --markup md -o "$dir/x"
expect_error "unknown split format 'words'" data "$dir/plain.txt" --split words -o "$dir/x"
expect_error "val-fraction" data "$dir/plain.txt" --val-fraction 1.5 -o "$dir/x"
expect_error "output" data "$dir/plain.txt"

# The shared Shakespeare corpus, when present beside the project.
shakes=${FRUGAL_SOURCE_DIR:-.}/../shared/data/tinyshakespeare.txt
if [[ -f "$shakes" ]]; then
  "$FRUGAL" data "$shakes" -o "$dir/sh" >/dev/null 2>"$dir/stderr"
  grep -q "read 1 files" "$dir/stderr" || { cat "$dir/stderr"; fail "shakespeare"; }
  [[ $(wc -c <"$dir/sh/train.txt") -gt 900000 ]] || fail "shakespeare train.txt too small"
else
  echo "skip: $shakes not found"
fi
echo "data_test: ok"
