# Shared setup of the mpirun tests (tests/dist/*_test.sh): source it after
# cli_test_lib.sh. Exits 0 with a SKIP line where mpirun or frugal's MPI
# build is missing; otherwise sets OpenMPI up for one machine (root allowed
# as in CI, the loopback interface and shared memory only, no fabrics
# probed) and gives ranks N args...: frugal args... on N ranks, killed
# after 120 s.
if ! command -v mpirun >/dev/null; then
  echo "SKIP: mpirun not found (scripts/bootstrap installs openmpi-bin)"
  exit 0
fi
# Each test's own OpenMPI session directory: tests that start mpirun at the
# same time (ctest -j) otherwise race to make and remove the one shared
# /tmp/ompi.HOST.UID ("mkdir ... File exists", orte_init failed).
mkdir -p "$dir/ompi"
export OMPI_MCA_orte_tmpdir_base="$dir/ompi" PRTE_MCA_prte_tmpdir_base="$dir/ompi"
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 -o "$dir/probe.gguf" >/dev/null
if ! "$FRUGAL" -q logits -m "$dir/probe.gguf" --tokens 1 -o "$dir/probe.bin" --expert-parallel 2>"$dir/probe.err"; then
  if grep -q "built without OpenMPI" "$dir/probe.err"; then
    echo "SKIP: this frugal was built without OpenMPI"
    exit 0
  fi
  fail "one process with --expert-parallel: $(cat "$dir/probe.err")"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none

ranks() {
  local n=$1; shift
  timeout -k 5 120 mpirun --oversubscribe --bind-to none -np "$n" "$FRUGAL" "$@"
}
