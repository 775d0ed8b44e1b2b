#!/usr/bin/env bash
# Prepare a Linux host for Genesis: sysctls, transparent huge pages, the CPU
# frequency governor and IRQ affinity; print the kernel boot parameters.
#
#   apply-sysctl.sh            dry run: every setting with its current and new value
#   apply-sysctl.sh --apply    write /etc/sysctl.d/90-genesis.conf, load it, set
#                              THP, governor and IRQ affinity (root only)
#   apply-sysctl.sh --revert   restore what --apply found (root only)
#
# Options:
#   --root DIR         prefix every /proc, /sys, /etc and /var path (tests; also GENESIS_ROOT)
#   --config FILE      engine config holding the core plan (default: GENESIS_CONFIG,
#                      else ROOT/etc/genesis/genesis.toml)
#   --hot-cores LIST   the hot cores (e.g. 2,3), instead of reading the config;
#                      the fallback when python3 >= 3.11 (tomllib) is missing
#   --boot-params      print only the kernel boot parameters and exit
#   --no-irq           leave IRQ affinity alone
#
# Values found before the first --apply are saved in
# /var/lib/genesis-tuning/saved.tsv; applying again keeps them, so --revert
# always returns to the host as it was. Running --apply twice changes nothing
# the second time. A knob this host lacks (a VM, a container) is skipped.
#
# Loading: the script writes each value to /proc/sys itself, which is what
# `sysctl -p /etc/sysctl.d/90-genesis.conf` does, but key by key, so a key the
# kernel lacks is skipped instead of failing the load. At boot, systemd-sysctl
# loads the file. THP, governor and IRQ affinity do not survive a reboot: run
# --apply again at boot (see genesis.service).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
G_PROG="apply-sysctl.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

mode=dry
root="${GENESIS_ROOT:-}"
config="${GENESIS_CONFIG:-}"
hot_override=""
boot_only=0
do_irq=1
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
    --boot-params) boot_only=1 ;;
    --no-irq) do_irq=0 ;;
    -h | --help) usage; exit 0 ;;
    *) g_die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
g_set_root "$root"
g_check_named_config "$config" "$hot_override"
[[ -n "$config" ]] || config=$(g_path /etc/genesis/genesis.toml)

if [[ "$mode" != dry ]] && ! g_is_root; then
    printf '%s: refusing --%s: it writes /etc/sysctl.d, /proc/sys and /sys, which only root may change. Rerun as root (sudo), or run without --%s for a dry run that shows what would change.\n' \
        "$G_PROG" "$mode" "$mode" >&2
    exit 1
fi

have_plan=1
g_load_plan "$config" "$hot_override" || have_plan=0

if ((boot_only)); then
    ((have_plan)) || g_die "$G_PLAN_ERR"
    if ! line=$(g_boot_params); then g_die "$line"; fi
    printf '%s\n' "$line"
    exit 0
fi

CONF=/etc/sysctl.d/90-genesis.conf
STATE="$(g_state_dir)/saved.tsv"
CONF_BACKUP="$(g_state_dir)/90-genesis.conf.before"
n_change=0 n_same=0 n_skip=0 n_refused=0

# row TAG NAME DETAIL
row() { printf '  %-10s %-34s %s\n' "$1" "$2" "$3"; }

# set_knob NAME PATH NEW [CURRENT]: the dry-run/apply step for one file.
# CURRENT defaults to the file's squeezed content.
set_knob() {
    local name="$1" rel="$2" new="$3" current="${4-}" file
    file=$(g_path "$rel")
    if [[ ! -e "$file" ]] || { [[ -z "${4+x}" ]] && ! current=$(g_read "$file"); }; then
        row skip "$name" "not on this host"
        n_skip=$((n_skip + 1))
        return 0
    fi
    if [[ "$current" == "$new" ]]; then
        row unchanged "$name" "$current"
        n_same=$((n_same + 1))
        return 0
    fi
    if [[ "$mode" == dry ]]; then
        row change "$name" "$current -> $new"
        n_change=$((n_change + 1))
    elif [[ ! -w "$file" ]]; then
        row skip "$name" "read-only here (a container?): stays $current"
        n_skip=$((n_skip + 1))
    else
        g_save "$STATE" "$rel" "$current"
        if g_write "$file" "$new"; then
            row set "$name" "$current -> $new"
            n_change=$((n_change + 1))
        else
            row refused "$name" "the kernel refused $new: stays $current"
            n_refused=$((n_refused + 1))
        fi
    fi
}

# The conf file's content for this host: keys it lacks are commented out so
# systemd-sysctl does not complain about them at boot.
conf_text() {
    local key value why
    printf '# Genesis low-latency host settings, written by tuning/apply-sysctl.sh --apply.\n'
    printf '# tuning/apply-sysctl.sh --revert removes this file and restores the earlier values.\n'
    while IFS='|' read -r key value why; do
        printf '\n# %s\n' "$why"
        if [[ -e "$(g_path "$(g_sysctl_path "$key")")" ]]; then
            printf '%s = %s\n' "$key" "$value"
        else
            printf '# %s = %s    (not on this host when written)\n' "$key" "$value"
        fi
    done < <(g_sysctl_settings)
}

do_sysctl() {
    local key value why conf_file want
    echo "== sysctl ($CONF)"
    while IFS='|' read -r key value why; do
        set_knob "$key" "$(g_sysctl_path "$key")" "$value"
    done < <(g_sysctl_settings)
    conf_file=$(g_path "$CONF")
    want=$(conf_text)
    if [[ -f "$conf_file" && "$(cat "$conf_file")" == "$want" ]]; then
        row unchanged "$CONF" "up to date"
    elif [[ "$mode" == dry ]]; then
        row change "$CONF" "would be $([[ -f "$conf_file" ]] && echo rewritten || echo written)"
    else
        mkdir -p "$(dirname "$conf_file")" "$(g_state_dir)"
        if [[ -f "$conf_file" && ! -f "$CONF_BACKUP" ]] && ! grep -q '^# Genesis low-latency host settings' "$conf_file"; then
            cp -p "$conf_file" "$CONF_BACKUP"
        fi
        printf '%s\n' "$want" >"$conf_file"
        row written "$CONF" "loaded into /proc/sys above"
    fi
}

do_thp() {
    local name file current
    echo "== transparent huge pages (never: no khugepaged compaction stalls, no surprise 2 MiB faults)"
    for name in enabled defrag; do
        file=/sys/kernel/mm/transparent_hugepage/$name
        current=""
        if [[ -e "$(g_path "$file")" ]]; then
            current=$(g_read "$(g_path "$file")" || true)
            # "always [madvise] never": the bracketed word is the current mode
            if [[ "$current" =~ \[([a-z+_]+)\] ]]; then current=${BASH_REMATCH[1]}; fi
        fi
        if [[ -n "$current" ]]; then
            set_knob "thp.$name" "$file" never "$current"
        else
            set_knob "thp.$name" "$file" never
        fi
    done
}

do_governor() {
    local cpu rel avail found=0
    echo "== CPU frequency governor (performance: full clock, no ramp-up delay after idle)"
    for cpu in $G_PRESENT; do
        rel=/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_governor
        [[ -e "$(g_path "$rel")" ]] || continue
        found=1
        avail=$(g_read "$(g_path "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_available_governors")" || echo performance)
        if [[ " $avail " != *" performance "* ]]; then
            row skip "cpu$cpu.governor" "no performance governor (available: $avail)"
            n_skip=$((n_skip + 1))
            continue
        fi
        set_knob "cpu$cpu.governor" "$rel" performance
    done
    if ((!found)); then
        row skip governor "no cpufreq on this host (a VM?)"
        n_skip=$((n_skip + 1))
    fi
}

do_irq() {
    local args=()
    echo "== IRQ affinity (tuning/irq-affinity.sh)"
    if ((!do_irq)); then
        row skip irq-affinity "--no-irq"
        return 0
    fi
    if ((!have_plan)); then
        row skip irq-affinity "no core plan: $G_PLAN_ERR"
        n_skip=$((n_skip + 1))
        return 0
    fi
    [[ "$mode" == dry ]] || args+=("--$mode")
    args+=(--root "$(g_root_label)" --hot-cores "$(cpulist_compress "$G_HOT")" --quiet-header)
    bash "$HERE/irq-affinity.sh" "${args[@]}"
}

do_boot() {
    local line
    echo "== kernel boot parameters (printed, never applied)"
    if ((!have_plan)); then
        echo "  none: $G_PLAN_ERR"
        return 0
    fi
    echo "  core plan from $G_PLAN_FROM: hot $(cpulist_compress "$G_HOT"), housekeeping $(cpulist_compress "$G_HOUSE")"
    if ! line=$(g_boot_params); then
        echo "  cannot compute: $line"
        return 0
    fi
    if [[ -n "$G_PRESENT" ]] && ! cpus_within "$G_HOT" "$G_PRESENT"; then
        echo "  warning: hot core(s) $(cpulist_compress "$(cpus_minus "$G_HOT" "$G_PRESENT")") do not exist on this host ($(cpulist_compress "$G_PRESENT"))"
    fi
    if [[ " $G_HOT " == *" 0 "* ]]; then
        echo "  warning: CPU 0 is a hot core; CPU 0 keeps work the kernel cannot move, so prefer hot cores from 1 up"
    fi
    echo "  Add to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, then reboot:"
    echo "  $line"
}

do_revert() {
    local rel value file current n=0 conf_file
    echo "== revert (values saved in /var/lib/genesis-tuning/saved.tsv)"
    if [[ -f "$STATE" ]]; then
        while IFS=$'\t' read -r rel value; do
            [[ -n "$rel" ]] || continue
            file=$(g_path "$rel")
            if [[ ! -e "$file" ]]; then
                row skip "$rel" "gone from this host"
                continue
            fi
            current=$(g_read "$file" || true)
            if g_write "$file" "$value"; then
                row restored "$rel" "$current -> $value"
                n=$((n + 1))
            else
                row refused "$rel" "the kernel refused $value"
                n_refused=$((n_refused + 1))
            fi
        done <"$STATE"
        rm -f "$STATE"
    else
        row unchanged saved.tsv "nothing saved: nothing to restore"
    fi
    conf_file=$(g_path "$CONF")
    if [[ -f "$CONF_BACKUP" ]]; then
        mv "$CONF_BACKUP" "$conf_file"
        row restored "$CONF" "the file found before --apply"
    elif [[ -f "$conf_file" ]]; then
        rm -f "$conf_file"
        row removed "$CONF" ""
    fi
    rmdir "$(g_state_dir)" 2>/dev/null || true
    echo "  restored $n value(s)"
}

echo "genesis host tuning: $mode$([[ -n "$G_ROOT" ]] && echo " (root $G_ROOT)")"
if [[ "$mode" == revert ]]; then
    do_revert
    if ((do_irq)); then
        echo "== IRQ affinity (tuning/irq-affinity.sh)"
        bash "$HERE/irq-affinity.sh" --revert --root "$(g_root_label)" --quiet-header
    fi
else
    do_sysctl
    do_thp
    do_governor
    do_irq
    do_boot
    if [[ "$mode" == dry ]]; then
        echo "dry run: $n_change to change, $n_same already set, $n_skip skipped. Nothing was written; --apply (as root) applies."
    else
        echo "applied: $n_change changed, $n_same already set, $n_skip skipped, $n_refused refused."
    fi
fi
if ((n_refused)); then
    echo "$G_PROG: the kernel refused $n_refused setting(s) above; check-host.sh shows what is in effect" >&2
    exit 1
fi
exit 0
