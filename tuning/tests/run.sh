#!/usr/bin/env bash
# Tests for the tuning scripts: shellcheck, then every script against fake root
# trees built in a temp dir (a tuned bare-metal host, an untuned one, and a VM
# where most knobs are missing). Nothing outside the temp dir is written: every
# script runs with --root TREE.
#
#   bash tuning/tests/run.sh      (from any directory; CI runs it as root)
#
# Run it as root: the scripts refuse --apply/--revert otherwise, so as non-root
# the apply/revert tests are reported as skipped. The non-root refusal is tested
# by dropping to `nobody` with runuser or setpriv; when neither can run the
# scripts, GENESIS_SIMULATE_NONROOT=1 (which makes the scripts treat root as
# non-root) stands in. shellcheck is installed with apt-get when missing and
# running as root; otherwise its test fails, saying so.
#
# The last line is "N passed, M failed"; the exit status is non-zero on any failure.
set -euo pipefail

TUNING=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$TUNING/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/genesis-tuning-tests.XXXXXX")
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

# Run from a folder holding one-letter files: a script that lets the shell
# glob "[madvise]" (THP's format) would turn it into "a" or "m" here.
mkdir -p "$WORK/cwd"
touch "$WORK/cwd/a" "$WORK/cwd/m" "$WORK/cwd/v"
cd "$WORK/cwd"

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
bad() {
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$1"
    [[ -z "${2:-}" ]] || printf '%s\n' "$2" | sed 's/^/      | /'
}
skip() { printf 'skip  %s\n' "$1"; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# run CMD...: sets OUT (stdout+stderr) and RC.
OUT="" RC=0
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}

# The scripts, always with an explicit fake root under $WORK.
guard() { [[ -n "$1" && "$1" == "$WORK"/* && -d "$1" ]] || { echo "test bug: root $1 is not a fake tree" >&2; exit 3; }; }
tune() { local t=$1; shift; guard "$t"; run bash "$TUNING/apply-sysctl.sh" --root "$t" "$@"; }
irqs() { local t=$1; shift; guard "$t"; run bash "$TUNING/irq-affinity.sh" --root "$t" "$@"; }
check() { local t=$1; shift; guard "$t"; run bash "$TUNING/check-host.sh" --root "$t" "$@"; }

expect_rc() { # NAME WANT
    if [[ "$RC" == "$2" ]]; then ok "$1 (exit $2)"; else bad "$1: exit $RC, want $2" "$OUT"; fi
}
expect_out() { # NAME ERE
    if grep -Eq -- "$2" <<<"$OUT"; then ok "$1"; else bad "$1: no line matches /$2/" "$OUT"; fi
}
expect_no_out() { # NAME ERE
    if grep -Eq -- "$2" <<<"$OUT"; then bad "$1: a line matches /$2/" "$(grep -E -- "$2" <<<"$OUT")"; else ok "$1"; fi
}
expect_file() { # NAME FILE WANT
    local got
    got=$(cat "$2" 2>/dev/null || echo "<missing>")
    if [[ "$got" == "$3" ]]; then ok "$1"; else bad "$1: $2 is '$got', want '$3'"; fi
}
expect_absent() { # NAME PATH
    if [[ -e "$2" ]]; then bad "$1: $2 exists"; else ok "$1"; fi
}
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 md5sum); }
expect_tree() { # NAME TREE SUM
    local now
    now=$(tree_sum "$2")
    if [[ "$now" == "$3" ]]; then ok "$1"; else bad "$1: the tree changed" "$(diff <(echo "$3") <(echo "$now") || true)"; fi
}

# ---- fake trees -------------------------------------------------------------

put() { # TREE PATH VALUE...: write a file, making its folder
    local file="$1$2"
    shift 2
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$@" >"$file"
}

# sysctl values: key untuned tuned
SYSCTLS="
net.core.busy_read 0 50
net.core.busy_poll 0 50
net.core.rmem_max 212992 134217728
net.core.wmem_max 212992 134217728
net.ipv4.tcp_keepalive_time 7200 60
net.ipv4.tcp_keepalive_intvl 75 10
net.ipv4.tcp_keepalive_probes 9 6
net.ipv4.tcp_fastopen 1 3
kernel.numa_balancing 1 0
kernel.timer_migration 1 0
vm.stat_interval 1 10
vm.swappiness 60 1
vm.dirty_ratio 20 10
vm.dirty_background_ratio 10 5
kernel.nmi_watchdog 1 0
"

CONFIG_PROD='mode = "prod"
[topology]
cores = { ingest = 2, risk = 2, strategy = 2, execution = 2, journal = 3 }  # hot path on 2, journal on 3
pin_threads = true
'

# make_metal TREE tuned|untuned: an 8-CPU bare-metal host, core plan 2,3.
make_metal() {
    local t=$1 kind=$2 cpu key untuned tuned
    mkdir -p "$t"
    put "$t" /etc/genesis/genesis.toml "$CONFIG_PROD"
    put "$t" /sys/devices/system/cpu/present 0-7
    put "$t" /sys/devices/system/cpu/online 0-7
    put "$t" /sys/devices/system/clocksource/clocksource0/current_clocksource tsc
    put "$t" /proc/1/comm systemd
    put "$t" /proc/irq/26/smp_affinity_list 0-1
    mkdir -p "$t/proc/irq/26/nvme0q1"
    mkdir -p "$t/proc/irq/24/eth0-rx-0" "$t/proc/irq/25/eth0-rx-1"
    while read -r key untuned tuned; do
        [[ -n "$key" ]] || continue
        if [[ $kind == tuned ]]; then
            put "$t" "/proc/sys/${key//.//}" "$tuned"
        else
            put "$t" "/proc/sys/${key//.//}" "$untuned"
        fi
    done <<<"$SYSCTLS"
    for cpu in 0 1 2 3 4 5 6 7; do
        put "$t" "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_available_governors" "performance powersave"
    done
    if [[ $kind == tuned ]]; then
        # the kernel separates the three numbers with tabs
        printf '4096\t87380\t134217728\n' >"$t/proc/sys/net/ipv4/tcp_rmem"
        printf '4096\t87380\t134217728\n' >"$t/proc/sys/net/ipv4/tcp_wmem"
        put "$t" /proc/cmdline "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1,4-7 skew_tick=1 tsc=reliable nosoftlockup"
        put "$t" /sys/devices/system/cpu/isolated 2-3
        put "$t" /sys/devices/system/cpu/nohz_full 2-3
        put "$t" /sys/devices/system/cpu/intel_pstate/no_turbo 1
        put "$t" /sys/devices/system/cpu/smt/active 0
        put "$t" /sys/kernel/mm/transparent_hugepage/enabled "always madvise [never]"
        put "$t" /sys/kernel/mm/transparent_hugepage/defrag "always defer defer+madvise madvise [never]"
        put "$t" /proc/swaps "Filename				Type		Size		Used		Priority"
        put "$t" /proc/irq/default_smp_affinity f3
        put "$t" /proc/irq/0/smp_affinity_list 0-1,4-7
        put "$t" /proc/irq/24/smp_affinity_list 0-1,4-7
        put "$t" /proc/irq/25/smp_affinity_list 4
        for cpu in 0 1 2 3 4 5 6 7; do
            put "$t" "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_governor" performance
        done
    else
        put "$t" /proc/sys/net/ipv4/tcp_rmem "4096 131072 6291456"
        put "$t" /proc/sys/net/ipv4/tcp_wmem "4096 16384 4194304"
        put "$t" /proc/cmdline "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet"
        put "$t" /sys/devices/system/cpu/isolated ""
        put "$t" /sys/devices/system/cpu/nohz_full "(null)"
        put "$t" /sys/devices/system/cpu/intel_pstate/no_turbo 0
        put "$t" /sys/devices/system/cpu/smt/active 1
        put "$t" /sys/kernel/mm/transparent_hugepage/enabled "always [madvise] never"
        put "$t" /sys/kernel/mm/transparent_hugepage/defrag "always defer defer+madvise [madvise] never"
        put "$t" /proc/swaps "Filename				Type		Size		Used		Priority" \
            "/dev/sda2                               partition	8388604		0		-2"
        put "$t" /proc/irq/default_smp_affinity ff
        put "$t" /proc/irq/0/smp_affinity_list 0-7 # no handler: never fires
        put "$t" /proc/irq/24/smp_affinity_list 0-7
        put "$t" /proc/irq/25/smp_affinity_list 2
        put "$t" /proc/812/comm irqbalance
        for cpu in 0 1 2 3 4 5 6 7; do
            put "$t" "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_governor" powersave
        done
    fi
}

# make_vm TREE: a 4-CPU VM booted for plan 2,3; no cpufreq, THP, SMT, IRQ or
# NUMA knobs, and only some sysctls.
make_vm() {
    local t=$1
    mkdir -p "$t"
    put "$t" /etc/genesis/genesis.toml "$CONFIG_PROD"
    put "$t" /sys/devices/system/cpu/present 0-3
    put "$t" /sys/devices/system/clocksource/clocksource0/current_clocksource kvm-clock
    put "$t" /proc/cmdline "root=/dev/vda1 console=ttyS0 isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1 skew_tick=1 tsc=reliable nosoftlockup"
    put "$t" /proc/1/comm init
    put "$t" /proc/sys/net/core/rmem_max 212992
    put "$t" /proc/sys/vm/swappiness 60
    put "$t" /proc/sys/net/ipv4/tcp_keepalive_time 7200
}

# ---- shellcheck ---------------------------------------------------------------
echo "== shellcheck"
if ! command -v shellcheck >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        echo "shellcheck missing: installing it with apt-get"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >"$WORK/apt.log" 2>&1 ||
            cat "$WORK/apt.log"
    fi
fi
if command -v shellcheck >/dev/null 2>&1; then
    for script in "$TUNING"/*.sh "$TUNING"/tests/*.sh; do
        run shellcheck -x "$script"
        if ((RC == 0)); then ok "shellcheck ${script#"$REPO"/}"; else bad "shellcheck ${script#"$REPO"/}" "$OUT"; fi
    done
else
    bad "shellcheck is not installed and could not be installed (needs root and apt-get: apt-get install -y shellcheck)"
fi

# ---- the core plan --------------------------------------------------------------
echo "== core plan and boot parameters"
M=$WORK/metal-untuned
make_metal "$M" untuned
BOOT_WANT="isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1,4-7 skew_tick=1 tsc=reliable nosoftlockup"

if command -v python3 >/dev/null 2>&1 && python3 -c 'import tomllib' 2>/dev/null; then
    tune "$M" --boot-params
    expect_rc "boot params from the config (python3 tomllib)" 0
    expect_out "boot params are computed from the plan" "^$BOOT_WANT\$"
else
    skip "python3 >= 3.11 missing: the tomllib reader is not tested"
fi
GENESIS_NO_PYTHON=1 tune "$M" --boot-params
expect_out "boot params from the config without python3 (fallback reader)" "^$BOOT_WANT\$"

put "$WORK" /cfg/table.toml 'mode = "prod"' '[topology]' 'pin_threads = true' '[topology.cores]' \
    'ingest = 1  # feed' 'risk = 1' 'strategy = 1' 'execution = 4' 'journal = 5'
for reader in python fallback; do
    nopy=0
    [[ $reader == fallback ]] && nopy=1
    GENESIS_NO_PYTHON=$nopy tune "$M" --boot-params --config "$WORK/cfg/table.toml"
    expect_out "[topology.cores] table form ($reader)" "^isolcpus=managed_irq,domain,1,4-5 nohz_full=1,4-5 rcu_nocbs=1,4-5 irqaffinity=0,2-3,6-7 "
done

put "$WORK" /cfg/nocores.toml 'mode = "dev"' '[topology]' 'wait = "sleep"'
tune "$M" --boot-params --config "$WORK/cfg/nocores.toml"
expect_out "no topology.cores: the engine's default, every stage on core 0" "^isolcpus=managed_irq,domain,0 .* irqaffinity=1-7 "

put "$WORK" /cfg/partial.toml '[topology]' 'cores = { ingest = 2, risk = 2 }'
tune "$M" --boot-params --config "$WORK/cfg/partial.toml"
expect_rc "a core plan missing stages is refused" 2
expect_out "... naming the missing stage" "topology.cores.strategy"

tune "$M" --boot-params --hot-cores 0-7
expect_rc "a plan that uses every CPU is refused" 2
expect_out "... saying a housekeeping CPU must be left" "housekeeping"

tune "$M" --boot-params --hot-cores 5,6 --config "$WORK/cfg/table.toml"
expect_out "--hot-cores wins over the config" "^isolcpus=managed_irq,domain,5-6 .* irqaffinity=0-4,7 "

tune "$M" --boot-params --config "$WORK/does-not-exist.toml"
expect_rc "a missing config is a usage error" 2
expect_out "... that says how to pass the plan" "--hot-cores"

for shipped in "$REPO"/engine/config/*.toml; do
    [[ -f "$shipped" ]] || continue
    tune "$M" --boot-params --config "$shipped"
    a="$OUT/$RC"
    GENESIS_NO_PYTHON=1 tune "$M" --boot-params --config "$shipped"
    if [[ "$a" == "$OUT/$RC" && $RC == 0 ]]; then
        ok "shipped ${shipped#"$REPO"/} reads the same with and without python3"
    else
        bad "shipped ${shipped#"$REPO"/}: readers disagree or fail" "$a / $OUT/$RC"
    fi
done

tune "$M" --bogus
expect_rc "an unknown argument is a usage error" 2

# ---- apply-sysctl.sh: dry run ------------------------------------------------------
echo "== apply-sysctl.sh dry run"
before=$(tree_sum "$M")
tune "$M"
expect_rc "dry run on the untuned host" 0
expect_out "dry run shows current and new value" "change +net\.core\.busy_read +0 -> 50$"
expect_out "dry run shows the tcp_rmem triple" "change +net\.ipv4\.tcp_rmem +4096 131072 6291456 -> 4096 87380 134217728$"
expect_out "dry run shows THP" "change +thp\.enabled +madvise -> never"
expect_out "dry run shows the governor" "change +cpu2\.governor +powersave -> performance"
expect_out "dry run shows IRQ moves" "move +irq 25 \(eth0-rx-1\) +2 -> 0-1,4-7"
expect_out "dry run prints the boot parameters" "^  $BOOT_WANT\$"
expect_out "dry run says nothing was written" "Nothing was written"
expect_tree "dry run changes nothing" "$M" "$before"

# ---- non-root refusal ----------------------------------------------------------------
echo "== refusal without root"
drop=()
if is_root; then
    for candidate in "runuser -u nobody --" "setpriv --reuid=65534 --regid=65534 --clear-groups --"; do
        read -ra try <<<"$candidate"
        # shellcheck disable=SC2016 # $1 and $(id -u) expand in the inner shell
        if command -v "${try[0]}" >/dev/null 2>&1 &&
            "${try[@]}" bash -c 'test "$(id -u)" != 0 && test -r "$1"' _ "$TUNING/apply-sysctl.sh" 2>/dev/null; then
            drop=("${try[@]}")
            break
        fi
    done
fi
nonroot() {
    local t=$1 script=$2
    shift 2
    guard "$t"
    if ((${#drop[@]})); then
        run "${drop[@]}" bash "$TUNING/$script" --root "$t" "$@"
    elif is_root; then
        GENESIS_SIMULATE_NONROOT=1 run bash "$TUNING/$script" --root "$t" "$@"
    else
        run bash "$TUNING/$script" --root "$t" "$@"
    fi
}
if ((${#drop[@]})); then
    echo "(as nobody via ${drop[0]})"
elif is_root; then
    echo "(neither runuser nor setpriv can run the scripts as nobody: simulating with GENESIS_SIMULATE_NONROOT=1)"
fi
for mode in apply revert; do
    nonroot "$M" apply-sysctl.sh "--$mode"
    expect_rc "apply-sysctl.sh --$mode refused without root" 1
    expect_out "... saying why" "refusing --$mode: .*only root may change"
    nonroot "$M" irq-affinity.sh "--$mode"
    expect_rc "irq-affinity.sh --$mode refused without root" 1
done
nonroot "$M" apply-sysctl.sh
expect_rc "a dry run needs no root" 0
expect_tree "refusals change nothing" "$M" "$before"

# ---- apply, idempotence, check, revert -------------------------------------------------
echo "== apply-sysctl.sh --apply / --revert"
if ! is_root; then
    skip "apply/revert tests need root (the scripts refuse --apply without it)"
else
    tune "$M" --apply
    expect_rc "apply on the untuned host" 0
    expect_out "apply reports what it set" "set +vm\.swappiness +60 -> 1"
    conf="$M/etc/sysctl.d/90-genesis.conf"
    if [[ -f "$conf" ]] && grep -qx 'net.core.busy_poll = 50' "$conf" &&
        grep -qx 'net.ipv4.tcp_wmem = 4096 87380 134217728' "$conf" && grep -qx 'kernel.nmi_watchdog = 0' "$conf" &&
        grep -q '^# .*NMI watchdog' "$conf"; then
        ok "apply writes /etc/sysctl.d/90-genesis.conf with a comment per setting"
    else
        bad "apply writes /etc/sysctl.d/90-genesis.conf" "$(cat "$conf" 2>&1)"
    fi
    expect_file "apply loads busy_read into /proc/sys" "$M/proc/sys/net/core/busy_read" 50
    expect_file "apply loads tcp_rmem" "$M/proc/sys/net/ipv4/tcp_rmem" "4096 87380 134217728"
    expect_file "apply loads keepalive probes" "$M/proc/sys/net/ipv4/tcp_keepalive_probes" 6
    expect_file "apply sets THP to never" "$M/sys/kernel/mm/transparent_hugepage/enabled" never
    expect_file "apply sets the governor" "$M/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor" performance
    expect_file "apply moves IRQs off the hot cores (spread IRQ)" "$M/proc/irq/24/smp_affinity_list" "0-1,4-7"
    expect_file "apply moves IRQs off the hot cores (pinned IRQ)" "$M/proc/irq/25/smp_affinity_list" "0-1,4-7"
    expect_file "apply leaves housekeeping IRQs alone" "$M/proc/irq/26/smp_affinity_list" "0-1"
    expect_file "apply sets default_smp_affinity" "$M/proc/irq/default_smp_affinity" "000000f3"
    after=$(tree_sum "$M")

    tune "$M" --apply
    expect_rc "apply again" 0
    expect_no_out "apply again sets nothing" "^  (set|moved|written) "
    expect_out "apply again reports 0 changed" "applied: 0 changed"
    expect_tree "apply is idempotent" "$M" "$after"

    check "$M"
    expect_out "after apply, check-host passes the sysctls" "^PASS +net\.core\.busy_read"
    expect_out "after apply, check-host passes IRQs" "^PASS +irq\.affinity"
    expect_out "after apply, isolation still needs the reboot" "^FAIL +cmdline\.isolcpus"

    tune "$M" --revert
    expect_rc "revert" 0
    expect_out "revert reports what it restored" "restored +/proc/sys/vm/swappiness +1 -> 60"
    expect_absent "revert removes the conf file" "$conf"
    expect_file "revert restores THP" "$M/sys/kernel/mm/transparent_hugepage/enabled" madvise
    expect_file "revert restores IRQ affinity" "$M/proc/irq/25/smp_affinity_list" 2
    # THP reads back "madvise" instead of "always [madvise] never": a fake file
    # does not re-render the choices as the kernel does. Compare the rest.
    put "$M" /sys/kernel/mm/transparent_hugepage/enabled "always [madvise] never"
    put "$M" /sys/kernel/mm/transparent_hugepage/defrag "always defer defer+madvise [madvise] never"
    expect_tree "revert returns every value to what apply found, despite the second apply" "$M" "$before"

    tune "$M" --revert
    expect_rc "revert again" 0
    expect_out "revert again has nothing to do" "nothing saved"

    # a conf file of the admin's own is kept and put back
    put "$M" /etc/sysctl.d/90-genesis.conf "# mine" "vm.swappiness = 5"
    tune "$M" --apply
    tune "$M" --revert
    expect_file "revert puts back a 90-genesis.conf that was there before" "$conf" "# mine
vm.swappiness = 5"
    rm -f "$conf"

    # the tuned host: nothing to change
    T=$WORK/metal-tuned
    make_metal "$T" tuned
    tuned_sum=$(tree_sum "$T")
    tune "$T" --apply
    expect_rc "apply on a tuned host" 0
    expect_out "a tuned host has nothing to change (tab-separated tcp_rmem reads as equal)" "applied: 0 changed"
    rm -f "$T/etc/sysctl.d/90-genesis.conf"
    rmdir "$T/etc/sysctl.d" "$T/var/lib/genesis-tuning" 2>/dev/null || true
    rm -rf "$T/var/lib/genesis-tuning"
    expect_tree "apply on a tuned host only writes the conf file" "$T" "$tuned_sum"

    # the VM: missing knobs are skipped, not failures
    V=$WORK/vm-apply
    make_vm "$V"
    tune "$V" --apply
    expect_rc "apply on a VM succeeds" 0
    expect_out "apply on a VM skips missing sysctls" "skip +kernel\.numa_balancing +not on this host"
    expect_out "apply on a VM skips THP" "skip +thp\.enabled +not on this host"
    expect_out "apply on a VM skips the governor" "skip +governor +no cpufreq"
    expect_out "apply on a VM skips IRQs" "skip +irq-affinity +no /proc/irq"
    expect_out "apply on a VM prints the VM's boot parameters" "irqaffinity=0-1 skew_tick=1"
    if grep -qx 'vm.swappiness = 1' "$V/etc/sysctl.d/90-genesis.conf" &&
        grep -q '^# kernel.numa_balancing = 0 .*not on this host' "$V/etc/sysctl.d/90-genesis.conf"; then
        ok "the VM's conf comments out the keys it lacks"
    else
        bad "the VM's conf comments out the keys it lacks" "$(cat "$V/etc/sysctl.d/90-genesis.conf" 2>&1)"
    fi
    tune "$V" --revert
    expect_file "revert on a VM restores swappiness" "$V/proc/sys/vm/swappiness" 60
fi

# ---- irq-affinity.sh on its own -----------------------------------------------------
echo "== irq-affinity.sh"
M2=$WORK/metal-irq
make_metal "$M2" untuned
irqs "$M2"
expect_rc "irq-affinity dry run (config from the tree)" 0
expect_out "irq-affinity lists the IRQ spread over hot cores" "move +irq 24 \(eth0-rx-0\) +0-7 -> 0-1,4-7"
expect_out "irq-affinity notices irqbalance" "irqbalance is running"
irqs "$M2" --hot-cores 4
expect_out "irq-affinity --hot-cores" "move +irq 24 \(eth0-rx-0\) +0-7 -> 0-3,5-7"
V2=$WORK/vm-irq
make_vm "$V2"
irqs "$V2"
expect_rc "irq-affinity on a VM without /proc/irq" 0
expect_out "... skips" "skip +irq-affinity"

# ---- check-host.sh ---------------------------------------------------------------------
echo "== check-host.sh"
T2=$WORK/check-tuned
make_metal "$T2" tuned
sum=$(tree_sum "$T2")
check "$T2"
expect_rc "check-host on a tuned host" 0
for name in cpus.present cmdline.isolcpus cmdline.nohz_full cmdline.rcu_nocbs cmdline.irqaffinity \
    cmdline.skew_tick cmdline.tsc cmdline.nosoftlockup sys.isolated sys.nohz_full cpufreq.governor turbo thp \
    net.core.busy_read net.ipv4.tcp_rmem vm.swappiness kernel.nmi_watchdog swap irq.affinity irqbalance smt clocksource; do
    expect_out "tuned: PASS $name" "^PASS +$name "
done
expect_no_out "tuned: no WARN, FAIL or SKIP" "^(WARN|FAIL|SKIP) "
check "$T2" --strict
expect_rc "check-host --strict on a tuned host" 0
expect_tree "check-host is read-only" "$T2" "$sum"

put "$T2" /proc/swaps "Filename Type Size Used Priority" "/swapfile file 1024 0 -2"
check "$T2"
expect_rc "a WARN alone exits 0" 0
expect_out "swap on is a WARN" "^WARN +swap "
check "$T2" --strict
expect_rc "--strict exits non-zero on a WARN" 1

put "$T2" /sys/devices/system/clocksource/clocksource0/current_clocksource hpet
check "$T2"
expect_rc "hpet clocksource fails" 1
expect_out "... as FAIL clocksource" "^FAIL +clocksource +hpet"

U=$WORK/check-untuned
make_metal "$U" untuned
check "$U"
expect_rc "check-host on an untuned host" 1
expect_out "untuned: FAIL isolcpus" "^FAIL +cmdline\.isolcpus +not set"
expect_out "untuned: FAIL sys.isolated" "^FAIL +sys\.isolated "
expect_out "untuned: FAIL IRQs on hot cores (24 and 25, not the handler-less 0)" "^FAIL +irq\.affinity +IRQ\(s\) 24 25 may"
expect_out "untuned: WARN nohz_full" "^WARN +cmdline\.nohz_full "
expect_out "untuned: WARN governor" "^WARN +cpufreq\.governor +cpu2=powersave cpu3=powersave"
expect_out "untuned: WARN turbo" "^WARN +turbo "
expect_out "untuned: WARN THP" "^WARN +thp +madvise"
expect_out "untuned: WARN sysctl with want" "^WARN +net\.core\.busy_poll +0; want 50"
expect_out "untuned: WARN swap" "^WARN +swap "
expect_out "untuned: WARN irqbalance" "^WARN +irqbalance +running"
expect_out "untuned: WARN SMT" "^WARN +smt +on"
expect_out "untuned: summary line" "^summary: [0-9]+ PASS, [0-9]+ WARN, [0-9]+ FAIL, [0-9]+ SKIP$"

V3=$WORK/check-vm
make_vm "$V3"
check "$V3"
expect_rc "check-host on a VM: missing knobs do not fail" 0
for name in sys.isolated sys.nohz_full cpufreq.governor turbo thp kernel.numa_balancing net.core.busy_poll irq.affinity smt; do
    expect_out "vm: SKIP $name" "^SKIP +$name "
done
expect_out "vm: PASS isolcpus on the VM's cmdline" "^PASS +cmdline\.isolcpus"
expect_out "vm: WARN kvm-clock" "^WARN +clocksource +kvm-clock"
expect_no_out "vm: no FAIL" "^FAIL "
check "$V3" --strict
expect_rc "check-host --strict on a VM with WARNs" 1

check "$V3" --hot-cores 1
expect_rc "a hot core the VM's isolcpus misses fails" 1
expect_out "... naming it" "^FAIL +cmdline\.isolcpus +managed_irq,domain,2-3 leaves hot 1 out"
check "$V3" --hot-cores 9
expect_out "a hot core the host lacks fails" "^FAIL +cpus\.present +hot core\(s\) 9 do not exist"

rm "$V3/etc/genesis/genesis.toml"
check "$V3"
expect_out "no config: WARN core-plan" "^WARN +core-plan +no engine config"
expect_out "no config: plan checks skipped" "^SKIP +cmdline\.isolation +no core plan"
for script in check apply irq; do
    case $script in
    check) check "$V3" --config "$WORK/no-such.toml" ;;
    apply) tune "$V3" --config "$WORK/no-such.toml" ;;
    irq) irqs "$V3" --config "$WORK/no-such.toml" ;;
    esac
    expect_rc "$script: a --config that does not exist is a usage error" 2
    expect_out "$script: ... naming it" "no engine config at $WORK/no-such.toml"
done
GENESIS_CONFIG="$WORK/no-such.toml" check "$V3"
expect_rc "check: a GENESIS_CONFIG that does not exist is a usage error" 2

# ---- genesis.service ---------------------------------------------------------------------
echo "== genesis.service"
UNIT="$TUNING/genesis.service"
for line in '^ExecStart=/usr/local/bin/genesis run --config /etc/genesis/genesis.toml$' \
    '^LimitMEMLOCK=infinity$' '^Restart=on-failure$' '^CPUAffinity=0-1,4-7$'; do
    if grep -Eq -- "$line" "$UNIT"; then ok "unit has /$line/"; else bad "unit lacks /$line/"; fi
done
# its example CPUAffinity is the housekeeping set of the prod plan on 8 CPUs
tune "$M" --boot-params
if [[ "$OUT" == *"irqaffinity=$(sed -n 's/^CPUAffinity=//p' "$UNIT") "* ]]; then
    ok "the unit's CPUAffinity example matches the computed housekeeping CPUs"
else
    bad "the unit's CPUAffinity example does not match the computed housekeeping CPUs" "$OUT"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    sed 's|^ExecStart=/usr/local/bin/genesis |ExecStart=/bin/true |' "$UNIT" >"$WORK/genesis.service"
    run systemd-analyze verify "$WORK/genesis.service"
    if ((RC == 0)); then ok "systemd-analyze verify accepts the unit"; else bad "systemd-analyze verify" "$OUT"; fi
else
    skip "systemd-analyze missing: the unit is not verified"
fi

echo
echo "$passed passed, $failed failed"
((failed == 0))
