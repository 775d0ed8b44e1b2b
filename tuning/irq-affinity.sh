#!/usr/bin/env bash
# Keep hardware interrupts off the engine's hot cores.
#
#   irq-affinity.sh            dry run: each IRQ that may land on a hot core, and its new CPUs
#   irq-affinity.sh --apply    move them (root only)
#   irq-affinity.sh --revert   put back what --apply found (root only)
#
# Options:
#   --root DIR         prefix every /proc, /sys and /var path (tests; also GENESIS_ROOT)
#   --config FILE      engine config holding the core plan (default: GENESIS_CONFIG,
#                      else ROOT/etc/genesis/genesis.toml)
#   --hot-cores LIST   the hot cores (e.g. 2,3) instead of reading the config
#
# For every /proc/irq/N whose smp_affinity_list includes a hot core, the new
# list is the old one without the hot cores, or every housekeeping CPU when
# nothing is left. /proc/irq/default_smp_affinity (for IRQs registered later)
# becomes the housekeeping CPUs. The kernel refuses to move some IRQs (per-CPU
# and managed ones): they are reported and left alone, which is not an error;
# the boot parameter isolcpus=managed_irq keeps managed IRQs off hot cores.
#
# irqbalance moves IRQs around on its own. Version 1.8 and later leaves CPUs in
# isolcpus/nohz_full alone; on older ones add IRQBALANCE_BANNED_CPULIST=<hot>
# to /etc/default/irqbalance, or stop it.
#
# Values found before the first --apply are saved in
# /var/lib/genesis-tuning/irq-saved.tsv for --revert. A host without
# /proc/irq (a container) is skipped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
G_PROG="irq-affinity.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

mode=dry
root="${GENESIS_ROOT:-}"
config="${GENESIS_CONFIG:-}"
hot_override=""
header=1
while (($#)); do
    case "$1" in
    --apply) mode=apply ;;
    --revert) mode=revert ;;
    --dry-run) mode=dry ;;
    --root) root="${2:?--root needs a DIR}"; shift ;;
    --root=*) root="${1#*=}" ;;
    --config) config="${2:?--config needs a FILE}"; shift ;;
    --config=*) config="${1#*=}" ;;
    --hot-cores) hot_override="${2:?--hot-cores needs a LIST}"; shift ;;
    --hot-cores=*) hot_override="${1#*=}" ;;
    --quiet-header) header=0 ;; # used by apply-sysctl.sh
    -h | --help) usage; exit 0 ;;
    *) g_die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
g_set_root "$root"
g_check_named_config "$config" "$hot_override"
[[ -n "$config" ]] || config=$(g_path /etc/genesis/genesis.toml)

if [[ "$mode" != dry ]] && ! g_is_root; then
    printf '%s: refusing --%s: IRQ affinity lives in /proc/irq, which only root may change. Rerun as root (sudo), or run without --%s for a dry run.\n' \
        "$G_PROG" "$mode" "$mode" >&2
    exit 1
fi

STATE="$(g_state_dir)/irq-saved.tsv"
row() { printf '  %-10s %-34s %s\n' "$1" "$2" "$3"; }
((header)) && echo "genesis IRQ affinity: $mode$([[ -n "$G_ROOT" ]] && echo " (root $G_ROOT)")"

if [[ "$mode" == revert ]]; then
    n=0
    if [[ -f "$STATE" ]]; then
        while IFS=$'\t' read -r rel value; do
            [[ -n "$rel" ]] || continue
            file=$(g_path "$rel")
            if [[ -e "$file" ]] && g_write "$file" "$value"; then
                row restored "$rel" "$value"
                n=$((n + 1))
            else
                row skip "$rel" "gone or refused"
            fi
        done <"$STATE"
        rm -f "$STATE"
        rmdir "$(g_state_dir)" 2>/dev/null || true
    else
        row unchanged irq-saved.tsv "nothing saved: nothing to restore"
    fi
    echo "  restored $n IRQ setting(s)"
    exit 0
fi

g_load_plan "$config" "$hot_override" || g_die "$G_PLAN_ERR"
[[ -n "$G_PRESENT" ]] || g_die "cannot tell which CPUs this host has (no $(g_path /sys/devices/system/cpu/present))"
[[ -n "$G_HOUSE" ]] || g_die "the core plan uses every CPU ($(cpulist_compress "$G_HOT")): no housekeeping CPU is left for IRQs"
hot_list=$(cpulist_compress "$G_HOT")
house_list=$(cpulist_compress "$G_HOUSE")

if [[ ! -d "$(g_path /proc/irq)" ]]; then
    row skip irq-affinity "no /proc/irq on this host (a container?)"
    exit 0
fi
echo "  hot cores $hot_list, housekeeping $house_list"

# change REL NEW CURRENT LABEL: one file, dry run or apply.
n_move=0 n_ok=0 n_refused=0
change() {
    local rel="$1" new="$2" current="$3" label="$4" file
    file=$(g_path "$rel")
    if [[ "$mode" == dry ]]; then
        row move "$label" "$current -> $new"
        n_move=$((n_move + 1))
        return 0
    fi
    g_save "$STATE" "$rel" "$current"
    if g_write "$file" "$new"; then
        row moved "$label" "$current -> $new"
        n_move=$((n_move + 1))
    else
        row refused "$label" "the kernel keeps it on $current (per-CPU or managed IRQ)"
        n_refused=$((n_refused + 1))
    fi
}

# IRQs registered later follow default_smp_affinity (a hex mask).
rel=/proc/irq/default_smp_affinity
if current=$(g_read "$(g_path "$rel")"); then
    want=$(cpumask_hex "$G_HOUSE")
    if [[ "$(cpumask_list "$current")" == "$G_HOUSE" ]]; then
        row unchanged default_smp_affinity "$current"
    else
        change "$rel" "$want" "$current" default_smp_affinity
    fi
fi

for dir in "$(g_path /proc/irq)"/[0-9]*; do
    [[ -d "$dir" ]] || continue
    irq=${dir##*/}
    rel=/proc/irq/$irq/smp_affinity_list
    current=$(g_read "$dir/smp_affinity_list") || continue
    cpus=$(cpulist_expand "$current")
    if [[ -z "$(cpus_common "$cpus" "$G_HOT")" ]]; then
        n_ok=$((n_ok + 1))
        continue
    fi
    new=$(cpus_minus "$cpus" "$G_HOT")
    [[ -n "$new" ]] || new=$G_HOUSE
    # the handler's name is a subfolder: eth0-rx-0, nvme0q1, ...
    name=""
    for sub in "$dir"/*/; do [[ -d "$sub" ]] && name+="${name:+,}$(basename "$sub")"; done
    change "$rel" "$(cpulist_compress "$new")" "$current" "irq $irq${name:+ ($name)}"
done

if g_irqbalance_running; then
    echo "  note: irqbalance is running; it may move IRQs back unless the hot cores are isolated (irqbalance >= 1.8) or in IRQBALANCE_BANNED_CPULIST"
fi
verb=$([[ "$mode" == dry ]] && echo "to move" || echo "moved")
echo "  IRQs: $n_move $verb, $n_ok already off the hot cores, $n_refused refused by the kernel"
exit 0
