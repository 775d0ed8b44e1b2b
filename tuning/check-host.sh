#!/usr/bin/env bash
# Check that a host is ready for Genesis. Read-only: it changes nothing.
#
#   check-host.sh [--strict] [--root DIR] [--config FILE] [--hot-cores LIST]
#
# Prints one line per check, PASS, WARN, FAIL or SKIP, then a summary line.
#   FAIL  the engine's hot cores are not its own: not isolated, IRQs land on
#         them, they do not exist, or timestamps need a system call
#   WARN  a tuning knob is not at the value Genesis recommends
#   SKIP  the host lacks the knob (a VM, a container), or there is no core plan
# Exit status: 1 when any check FAILs, or with --strict when any WARNs; 0
# otherwise; 2 on a usage error.
#
# Options:
#   --strict           WARN counts as failure for the exit status
#   --root DIR         prefix every /proc, /sys and /etc path (tests; also GENESIS_ROOT)
#   --config FILE      engine config holding the core plan (default: GENESIS_CONFIG,
#                      else ROOT/etc/genesis/genesis.toml)
#   --hot-cores LIST   the hot cores (e.g. 2,3) instead of reading the config;
#                      the fallback when python3 >= 3.11 (tomllib) is missing
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
G_PROG="check-host.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

strict=0
root="${GENESIS_ROOT:-}"
config="${GENESIS_CONFIG:-}"
hot_override=""
while (($#)); do
    case "$1" in
    --strict) strict=1 ;;
    --root) root="${2:?--root needs a DIR}"; shift ;;
    --root=*) root="${1#*=}" ;;
    --config) config="${2:?--config needs a FILE}"; shift ;;
    --config=*) config="${1#*=}" ;;
    --hot-cores) hot_override="${2:?--hot-cores needs a LIST}"; shift ;;
    --hot-cores=*) hot_override="${1#*=}" ;;
    -h | --help) usage; exit 0 ;;
    *) g_die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
g_set_root "$root"
g_check_named_config "$config" "$hot_override"
[[ -n "$config" ]] || config=$(g_path /etc/genesis/genesis.toml)

n_pass=0 n_warn=0 n_fail=0 n_skip=0
# result LEVEL CHECK DETAIL
result() {
    printf '%-4s  %-30s %s\n' "$1" "$2" "$3"
    case "$1" in
    PASS) n_pass=$((n_pass + 1)) ;;
    WARN) n_warn=$((n_warn + 1)) ;;
    FAIL) n_fail=$((n_fail + 1)) ;;
    SKIP) n_skip=$((n_skip + 1)) ;;
    esac
}
p() { g_path "$1"; }

echo "genesis host check$([[ -n "$G_ROOT" ]] && echo " (root $G_ROOT)")"

# ---- core plan -------------------------------------------------------------
have_plan=1
if g_load_plan "$config" "$hot_override"; then
    hot=$(cpulist_compress "$G_HOT")
    echo "core plan from $G_PLAN_FROM: hot $hot, housekeeping $(cpulist_compress "$G_HOUSE")"
    if [[ -z "$G_PRESENT" ]]; then
        result SKIP cpus.present "cannot read /sys/devices/system/cpu/present"
    elif ! cpus_within "$G_HOT" "$G_PRESENT"; then
        result FAIL cpus.present "hot core(s) $(cpulist_compress "$(cpus_minus "$G_HOT" "$G_PRESENT")") do not exist (CPUs $(cpulist_compress "$G_PRESENT"))"
    elif [[ -z "$G_HOUSE" ]]; then
        result FAIL cpus.housekeeping "the plan uses every CPU: nothing is left for the kernel, IRQs and the rest"
    else
        result PASS cpus.present "hot $hot exist; housekeeping $(cpulist_compress "$G_HOUSE")"
    fi
else
    have_plan=0
    hot=""
    result WARN core-plan "$G_PLAN_ERR; the checks against the plan are skipped"
fi

# ---- isolation: boot command line and what the kernel made of it -----------
# cmdline_value NAME: the value of NAME=... on the kernel command line.
cmdline=""
have_cmdline=0
if cmdline=$(g_read "$(p /proc/cmdline)"); then have_cmdline=1; fi
cmdline_value() {
    local word
    local -a words
    read -ra words <<<"$cmdline" || true
    for word in "${words[@]}"; do
        [[ "$word" == "$1="* ]] && { printf '%s' "${word#*=}"; return 0; }
    done
    return 1
}
cmdline_has() { [[ " $cmdline " == *" $1 "* ]]; }

# check_cmdline_list PARAM LEVEL_IF_MISSING
check_cmdline_list() {
    local param="$1" level="$2" value cpus
    if ! value=$(cmdline_value "$param"); then
        result "$level" "cmdline.$param" "not set; want $param=${3:-}$hot"
        return 0
    fi
    cpus=$(cpulist_expand "$value")
    if cpus_within "$G_HOT" "$cpus"; then
        result PASS "cmdline.$param" "$value covers hot $hot"
    else
        result "$level" "cmdline.$param" "$value leaves hot $(cpulist_compress "$(cpus_minus "$G_HOT" "$cpus")") out"
    fi
}

if ((!have_cmdline)); then
    result SKIP cmdline "no /proc/cmdline"
elif ((!have_plan)); then
    result SKIP cmdline.isolation "no core plan"
else
    check_cmdline_list isolcpus FAIL managed_irq,domain,
    if value=$(cmdline_value isolcpus) && [[ ",$value," != *",managed_irq,"* ]]; then
        result WARN cmdline.isolcpus.managed_irq "isolcpus lacks managed_irq: managed (e.g. NVMe, NIC queue) IRQs may land on hot cores"
    fi
    check_cmdline_list nohz_full WARN
    check_cmdline_list rcu_nocbs WARN
    if value=$(cmdline_value irqaffinity); then
        if [[ -n "$(cpus_common "$(cpulist_expand "$value")" "$G_HOT")" ]]; then
            result WARN cmdline.irqaffinity "$value includes hot cores; want ${G_HOUSE:+$(cpulist_compress "$G_HOUSE")}"
        else
            result PASS cmdline.irqaffinity "$value"
        fi
    else
        result WARN cmdline.irqaffinity "not set; want irqaffinity=$(cpulist_compress "$G_HOUSE")"
    fi
fi
if ((have_cmdline)); then
    for param in skew_tick=1 tsc=reliable nosoftlockup; do
        if cmdline_has "$param"; then
            result PASS "cmdline.${param%%=*}" "$param"
        else
            result WARN "cmdline.${param%%=*}" "not set; want $param"
        fi
    done
fi

# /sys/devices/system/cpu/{isolated,nohz_full}: what the running kernel did.
for name in isolated nohz_full; do
    file=$(p /sys/devices/system/cpu/$name)
    if ! value=$(g_read "$file"); then
        result SKIP "sys.$name" "no /sys/devices/system/cpu/$name (kernel without it)"
    elif ((!have_plan)); then
        result SKIP "sys.$name" "no core plan"
    elif cpus_within "$G_HOT" "$(cpulist_expand "$value")"; then
        result PASS "sys.$name" "${value:-(none)} covers hot $hot"
    elif [[ $name == isolated ]]; then
        result FAIL "sys.$name" "${value:-(none)}: hot $(cpulist_compress "$(cpus_minus "$G_HOT" "$(cpulist_expand "$value")")") not isolated; the scheduler puts other tasks there (boot with isolcpus)"
    else
        result WARN "sys.$name" "${value:-(none)}: hot cores still take the scheduler tick (boot with nohz_full)"
    fi
done

# ---- frequency: governor and turbo -------------------------------------------
if ((have_plan)); then
    governors=""
    bad=""
    for cpu in $G_HOT; do
        if gov=$(g_read "$(p "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_governor")"); then
            governors+="${governors:+ }cpu$cpu=$gov"
            [[ "$gov" == performance ]] || bad+="${bad:+ }cpu$cpu=$gov"
        fi
    done
    if [[ -z "$governors" ]]; then
        result SKIP cpufreq.governor "no cpufreq on the hot cores (a VM?)"
    elif [[ -n "$bad" ]]; then
        result WARN cpufreq.governor "$bad; want performance"
    else
        result PASS cpufreq.governor "$governors"
    fi
else
    result SKIP cpufreq.governor "no core plan"
fi
if value=$(g_read "$(p /sys/devices/system/cpu/intel_pstate/no_turbo)"); then
    if [[ "$value" == 1 ]]; then
        result PASS turbo "intel_pstate/no_turbo=1: steady clock"
    else
        result WARN turbo "intel_pstate/no_turbo=$value: turbo varies the clock with load and heat (echo 1 > .../no_turbo for steady latency)"
    fi
elif value=$(g_read "$(p /sys/devices/system/cpu/cpufreq/boost)"); then
    if [[ "$value" == 0 ]]; then
        result PASS turbo "cpufreq/boost=0: steady clock"
    else
        result WARN turbo "cpufreq/boost=$value: boost varies the clock with load and heat"
    fi
else
    result SKIP turbo "no intel_pstate/no_turbo or cpufreq/boost"
fi

# ---- transparent huge pages ----------------------------------------------------
if value=$(g_read "$(p /sys/kernel/mm/transparent_hugepage/enabled)"); then
    [[ "$value" =~ \[([a-z]+)\] ]] && value=${BASH_REMATCH[1]}
    if [[ "$value" == never ]]; then
        result PASS thp "never"
    else
        result WARN thp "$value: khugepaged compaction and 2 MiB faults stall threads; want never"
    fi
else
    result SKIP thp "no /sys/kernel/mm/transparent_hugepage"
fi

# ---- sysctls --------------------------------------------------------------------
while IFS='|' read -r key want _; do
    if value=$(g_read "$(p "$(g_sysctl_path "$key")")"); then
        if [[ "$value" == "$want" ]]; then
            result PASS "$key" "$value"
        else
            result WARN "$key" "$value; want $want (apply-sysctl.sh)"
        fi
    else
        result SKIP "$key" "not on this host"
    fi
done < <(g_sysctl_settings)

# ---- swap -------------------------------------------------------------------------
if [[ -r "$(p /proc/swaps)" ]]; then
    n=$(($(wc -l <"$(p /proc/swaps)") - 1))
    ((n < 0)) && n=0
    if ((n == 0)); then
        result PASS swap "off"
    else
        result WARN swap "$n swap area(s) on: a swapped-out page costs milliseconds (swapoff -a, or rely on mlockall and vm.swappiness)"
    fi
else
    result SKIP swap "no /proc/swaps"
fi

# ---- IRQs on hot cores, irqbalance ---------------------------------------------------
if [[ ! -d "$(p /proc/irq)" ]]; then
    result SKIP irq.affinity "no /proc/irq"
elif ((!have_plan)); then
    result SKIP irq.affinity "no core plan"
else
    on_hot=""
    for dir in "$(p /proc/irq)"/[0-9]*; do
        [[ -d "$dir" ]] || continue
        # Only IRQs with a handler (a named subfolder) can fire. Where the
        # kernel reports where an IRQ is really delivered, that is what counts.
        handler=0
        for sub in "$dir"/*/; do [[ -d "$sub" ]] && handler=1; done
        ((handler)) || continue
        value=$(g_read "$dir/effective_affinity_list" || g_read "$dir/smp_affinity_list" || true)
        if [[ -n "$(cpus_common "$(cpulist_expand "$value")" "$G_HOT")" ]]; then
            on_hot+="${on_hot:+ }${dir##*/}"
        fi
    done
    if [[ -n "$on_hot" ]]; then
        result FAIL irq.affinity "IRQ(s) $on_hot may land on hot $hot (irq-affinity.sh --apply)"
    else
        result PASS irq.affinity "no IRQ handler on hot $hot"
    fi
fi
if [[ ! -d "$(p /proc/1)" ]]; then
    result SKIP irqbalance "cannot see processes in /proc"
elif g_irqbalance_running; then
    result WARN irqbalance "running: it may move IRQs onto hot cores unless they are isolated (irqbalance >= 1.8) or banned (IRQBALANCE_BANNED_CPULIST)"
else
    result PASS irqbalance "not running"
fi

# ---- SMT ------------------------------------------------------------------------------
if value=$(g_read "$(p /sys/devices/system/cpu/smt/active)"); then
    if [[ "$value" == 0 ]]; then
        result PASS smt "off"
    else
        result WARN smt "on: a hot core's sibling shares its caches and pipeline; boot with nosmt or keep the siblings idle"
    fi
else
    result SKIP smt "no /sys/devices/system/cpu/smt"
fi

# ---- clocksource --------------------------------------------------------------------------
if value=$(g_read "$(p /sys/devices/system/clocksource/clocksource0/current_clocksource)"); then
    case "$value" in
    tsc | arch_sys_counter) result PASS clocksource "$value" ;;
    kvm-clock | hyperv_clocksource_tsc_page | xen)
        result WARN clocksource "$value: a virtual clock; bare metal uses tsc" ;;
    *) result FAIL clocksource "$value: every clock read is a system call (~1 us); want tsc (boot with tsc=reliable)" ;;
    esac
else
    result SKIP clocksource "no /sys/devices/system/clocksource"
fi

echo "summary: $n_pass PASS, $n_warn WARN, $n_fail FAIL, $n_skip SKIP"
if ((n_fail)) || ((strict && n_warn)); then
    exit 1
fi
exit 0
