# shellcheck shell=bash disable=SC2034 # the G_ globals are read by the scripts that source this file
# Helpers shared by the tuning scripts. Sourced, never run on its own.
#
# Every path the scripts touch goes through g_path, which prefixes the root-dir
# override (--root DIR or GENESIS_ROOT=DIR), so the tests can run every script
# against a fake /proc, /sys and /etc tree.

G_ROOT=""        # "" means the real /
G_HOT=""         # hot cores: distinct core ids of the core plan, "2 3"
G_HOUSE=""       # housekeeping CPUs: every present CPU that is not hot
G_PRESENT=""     # present CPUs, "0 1 2 3"
G_PLAN_FROM=""   # where the core plan came from, for messages
G_PLAN_ERR=""    # why there is no core plan

g_die() {
    printf '%s: %s\n' "${G_PROG:-genesis-tuning}" "$*" >&2
    exit 2
}

# g_set_root DIR: "/" or "" is the real root.
g_set_root() {
    local root="${1:-}"
    while [[ "$root" == */ ]]; do root="${root%/}"; done
    if [[ -n "$root" && ! -d "$root" ]]; then
        g_die "root dir $root does not exist"
    fi
    G_ROOT="$root"
}

g_path() { printf '%s%s' "$G_ROOT" "$1"; }

g_root_label() { printf '%s' "${G_ROOT:-/}"; }

# Root check for --apply/--revert. GENESIS_SIMULATE_NONROOT=1 makes a root
# caller act as non-root: the tests use it when neither runuser nor setpriv can
# drop privileges. It can only make a script refuse, never allow.
g_is_root() {
    [[ "${GENESIS_SIMULATE_NONROOT:-0}" != 1 && "$(id -u)" == 0 ]]
}

# g_read FILE: first line of a file, whitespace runs squeezed to one space.
# Fails (status 1) when the file is missing or unreadable.
g_read() {
    local line=""
    [[ -f "$1" && -r "$1" ]] || return 1
    IFS= read -r line <"$1" 2>/dev/null || true
    local -a words
    read -ra words <<<"$line" || true # splits without globbing "[madvise]"
    printf '%s' "${words[*]}"
}

# g_write FILE VALUE: write like sysctl does; status 1 when the kernel refuses.
g_write() {
    { printf '%s\n' "$2" >"$1"; } 2>/dev/null
}

# ---- CPU lists ("0-3,6") --------------------------------------------------

# cpulist_expand "0-2,5" -> "0 1 2 5": sorted, distinct. Words that are not CPU
# numbers or ranges (isolcpus flags such as managed_irq, domain) are ignored.
cpulist_expand() {
    local list="${1//[[:space:]]/}" part a b i
    local -a parts out=()
    [[ -z "$list" || "$list" == "(null)" ]] && return 0
    IFS=',' read -ra parts <<<"$list"
    for part in "${parts[@]}"; do
        if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
            a=$((10#${BASH_REMATCH[1]}))
            b=$((10#${BASH_REMATCH[2]}))
            for ((i = a; i <= b; i++)); do out+=("$i"); done
        elif [[ "$part" =~ ^[0-9]+$ ]]; then
            out+=("$((10#$part))")
        fi
    done
    ((${#out[@]})) || return 0
    printf '%s\n' "${out[@]}" | sort -nu | tr '\n' ' ' | sed 's/ $//'
}

# cpulist_compress "0 1 2 5" -> "0-2,5"
cpulist_compress() {
    local cpu start="" prev="" text=""
    # shellcheck disable=SC2086 # the list is space separated on purpose
    for cpu in $(printf '%s\n' $1 | sort -nu); do
        if [[ -z "$start" ]]; then
            start=$cpu
        elif ((cpu != prev + 1)); then
            text+="${text:+,}$start"
            ((prev != start)) && text+="-$prev"
            start=$cpu
        fi
        prev=$cpu
    done
    if [[ -n "$start" ]]; then
        text+="${text:+,}$start"
        ((prev != start)) && text+="-$prev"
    fi
    printf '%s' "$text"
}

# cpus_minus "A" "B": CPUs of A that are not in B.
cpus_minus() {
    local cpu out=()
    local -A drop=()
    for cpu in $2; do drop[$cpu]=1; done
    for cpu in $1; do [[ -n "${drop[$cpu]:-}" ]] || out+=("$cpu"); done
    printf '%s' "${out[*]}"
}

# cpus_common "A" "B": CPUs in both.
cpus_common() {
    local cpu out=()
    local -A keep=()
    for cpu in $2; do keep[$cpu]=1; done
    for cpu in $1; do [[ -z "${keep[$cpu]:-}" ]] || out+=("$cpu"); done
    printf '%s' "${out[*]}"
}

# cpus_within "A" "B": every CPU of A is in B (true for an empty A).
cpus_within() { [[ -z "$(cpus_minus "$1" "$2")" ]]; }

# cpumask_hex "0 1 4" -> "00000013": the kernel's smp_affinity format, 32-bit
# words, most significant first, separated by commas.
cpumask_hex() {
    local cpu max=0 nwords w text=""
    local -a words
    for cpu in $1; do ((cpu > max)) && max=$cpu; done
    nwords=$((max / 32 + 1))
    for ((w = 0; w < nwords; w++)); do words[w]=0; done
    for cpu in $1; do
        words[cpu / 32]=$((words[cpu / 32] | (1 << (cpu % 32))))
    done
    for ((w = nwords - 1; w >= 0; w--)); do
        text+="${text:+,}$(printf '%08x' "${words[w]}")"
    done
    printf '%s' "$text"
}

# cpumask_list "00000013" -> "0 1 4"
cpumask_list() {
    local hex="${1//,/}" i digit bit pos=0 out=()
    hex="${hex//[[:space:]]/}"
    [[ "$hex" =~ ^[0-9a-fA-F]+$ ]] || return 0
    for ((i = ${#hex} - 1; i >= 0; i--)); do
        digit=$((16#${hex:i:1}))
        for bit in 0 1 2 3; do
            ((digit & (1 << bit))) && out+=("$((pos + bit))")
        done
        pos=$((pos + 4))
    done
    printf '%s' "${out[*]}"
}

# ---- the machine and the core plan ------------------------------------------

# Sets G_PRESENT from /sys/devices/system/cpu/{present,online,possible}, else
# from the cpuN folders. Empty when none of them can be read.
g_load_cpus() {
    local name list dir
    G_PRESENT=""
    for name in present online possible; do
        if list=$(g_read "$(g_path /sys/devices/system/cpu/$name)"); then
            G_PRESENT=$(cpulist_expand "$list")
            [[ -n "$G_PRESENT" ]] && return 0
        fi
    done
    for dir in "$(g_path /sys/devices/system/cpu)"/cpu[0-9]*; do
        [[ -d "$dir" ]] && G_PRESENT+="${G_PRESENT:+ }${dir##*/cpu}"
    done
    G_PRESENT=$(cpulist_expand "${G_PRESENT// /,}")
}

# _g_plan_python FILE: prints the five stage cores, ingest..journal.
_g_plan_python() {
    python3 - "$1" <<'EOF'
import sys, tomllib
stages = ["ingest", "risk", "strategy", "execution", "journal"]
try:
    with open(sys.argv[1], "rb") as f:
        config = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as e:
    sys.exit(f"cannot read {sys.argv[1]}: {e}")
topology = config.get("topology", {})
if "cores" not in topology:
    print(" ".join(["0"] * 5))  # the engine's default: every stage on core 0
    sys.exit(0)
cores = topology["cores"]
if not isinstance(cores, dict):
    sys.exit("topology.cores is not a table")
out = []
for stage in stages:
    value = cores.get(stage)
    if type(value) is not int or value < 0:
        sys.exit(f"topology.cores.{stage} is missing or not a core id")
    out.append(str(value))
print(" ".join(out))
EOF
}

# _g_plan_awk FILE: the fallback without python3 >= 3.11. Understands the two
# forms the engine's configs use: `cores = { ingest = 2, ... }` on one line under
# [topology], and a [topology.cores] table of `stage = N` lines.
_g_plan_awk() {
    awk '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); gsub(/"/, "", s); return s }
    {
        line = $0; sub(/#.*/, "", line); line = trim(line)
        if (line == "") next
        if (line ~ /^\[/) { section = line; gsub(/[ \t]/, "", section); next }
        if (section == "[topology]" && line ~ /^cores[ \t]*=/) {
            value = line; sub(/^cores[ \t]*=[ \t]*/, "", value)
            if (value !~ /^\{.*\}$/) { print "ERROR topology.cores is not a one-line inline table"; exit }
            gsub(/[{} \t]/, "", value)
            n = split(value, pairs, ",")
            for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); core[trim(kv[1])] = trim(kv[2]) }
            found = 1
        } else if (section == "[topology.cores]" && line ~ /=/) {
            split(line, kv, "="); core[trim(kv[1])] = trim(kv[2]); found = 1
        }
    }
    END {
        if (!found) { print "0 0 0 0 0"; exit }
        n = split("ingest risk strategy execution journal", stages, " ")
        out = ""
        for (i = 1; i <= n; i++) {
            if (core[stages[i]] !~ /^[0-9]+$/) { print "ERROR topology.cores." stages[i] " is missing or not a core id"; exit }
            out = out (i > 1 ? " " : "") core[stages[i]]
        }
        print out
    }' "$1"
}

# g_check_named_config CONFIG HOT_OVERRIDE: a config named by --config or
# $GENESIS_CONFIG must exist (a typo would otherwise pass as "no core plan");
# only the default path may be missing. Exits 2 naming it.
g_check_named_config() {
    [[ -z "$1" || -n "$2" || -f "$1" ]] ||
        g_die "no engine config at $1 (named by --config or GENESIS_CONFIG); pass an existing file, or --hot-cores LIST"
}

# g_load_plan CONFIG HOT_OVERRIDE: sets G_HOT, G_HOUSE and G_PLAN_FROM, or
# G_PLAN_ERR (status 1). HOT_OVERRIDE ("2,3", from --hot-cores) wins over the
# config. Calls g_load_cpus.
g_load_plan() {
    local config="$1" override="$2" cores
    g_load_cpus
    G_HOT="" G_HOUSE="" G_PLAN_FROM="" G_PLAN_ERR=""
    if [[ -n "$override" ]]; then
        G_HOT=$(cpulist_expand "$override")
        [[ -n "$G_HOT" ]] || g_die "--hot-cores $override: not a CPU list such as 2,3 or 2-3"
        G_PLAN_FROM="--hot-cores $override"
    elif [[ -z "$config" || ! -f "$config" ]]; then
        G_PLAN_ERR="no engine config at ${config:-?} (pass --config FILE, or --hot-cores LIST)"
        return 1
    else
        if [[ "${GENESIS_NO_PYTHON:-0}" != 1 ]] && command -v python3 >/dev/null 2>&1 &&
            python3 -c 'import tomllib' >/dev/null 2>&1; then
            if ! cores=$(_g_plan_python "$config" 2>&1); then
                G_PLAN_ERR="$config: $cores"
                return 1
            fi
            G_PLAN_FROM="$config (topology.cores)"
        else
            cores=$(_g_plan_awk "$config")
            if [[ "$cores" == ERROR* ]]; then
                G_PLAN_ERR="$config: ${cores#ERROR } (no python3 >= 3.11 to parse TOML fully; pass --hot-cores LIST)"
                return 1
            fi
            G_PLAN_FROM="$config (topology.cores, read without python3)"
        fi
        G_HOT=$(cpulist_expand "${cores// /,}")
    fi
    [[ -n "$G_PRESENT" ]] && G_HOUSE=$(cpus_minus "$G_PRESENT" "$G_HOT")
    return 0
}

# g_boot_params: the kernel command line for the plan, or status 1 with the
# reason on stdout.
g_boot_params() {
    local hot house
    hot=$(cpulist_compress "$G_HOT")
    house=$(cpulist_compress "$G_HOUSE")
    if [[ -z "$G_PRESENT" ]]; then
        echo "cannot tell which CPUs this host has (no /sys/devices/system/cpu/present)"
        return 1
    fi
    if [[ -z "$G_HOUSE" ]]; then
        echo "the core plan uses every CPU ($hot): leave at least one housekeeping CPU"
        return 1
    fi
    printf 'isolcpus=managed_irq,domain,%s nohz_full=%s rcu_nocbs=%s irqaffinity=%s skew_tick=1 tsc=reliable nosoftlockup' \
        "$hot" "$hot" "$hot" "$house"
}

# g_irq_running: true when an irqbalance process shows in /proc.
g_irqbalance_running() {
    local comm
    for comm in "$(g_path /proc)"/[0-9]*/comm; do
        [[ -r "$comm" ]] || continue
        [[ "$(g_read "$comm" || true)" == irqbalance ]] && return 0
    done
    return 1
}

# ---- saved values for --revert ---------------------------------------------
# A state file holds "path<TAB>value" lines, paths relative to the root. The
# first value seen for a path is kept: re-applying never overwrites what was
# there before the first --apply.

g_state_dir() { g_path /var/lib/genesis-tuning; }

# g_save STATEFILE PATH VALUE
g_save() {
    local state="$1" path="$2" value="$3"
    mkdir -p "$(dirname "$state")"
    touch "$state"
    if ! cut -f1 "$state" | grep -Fxq -- "$path"; then
        printf '%s\t%s\n' "$path" "$value" >>"$state"
    fi
}

# ---- the sysctl settings -----------------------------------------------------
# key|value|why. apply-sysctl.sh writes them, check-host.sh checks them.
g_sysctl_settings() {
    cat <<'EOF_SETTINGS'
net.core.busy_read|50|busy-poll socket reads for 50 us before sleeping: packets are picked up from the NIC queue without waiting for an interrupt
net.core.busy_poll|50|the same 50 us busy poll for poll/select/epoll on sockets
net.core.rmem_max|134217728|128 MiB: the largest receive buffer a socket may ask for, so a market-data burst is queued, not dropped
net.core.wmem_max|134217728|128 MiB: the largest send buffer a socket may ask for
net.ipv4.tcp_rmem|4096 87380 134217728|TCP receive buffer min/default/max: autotuning may grow to 128 MiB
net.ipv4.tcp_wmem|4096 87380 134217728|TCP send buffer min/default/max: autotuning may grow to 128 MiB
net.ipv4.tcp_keepalive_time|60|probe an idle venue or feed connection after 60 s instead of 2 h
net.ipv4.tcp_keepalive_intvl|10|then every 10 s
net.ipv4.tcp_keepalive_probes|6|and call it dead after 6 unanswered probes: about 2 min to notice a silent peer
net.ipv4.tcp_fastopen|3|TCP Fast Open for clients and servers: data in the SYN saves a round trip on reconnect
kernel.numa_balancing|0|no automatic NUMA page migration: it unmaps pages to sample them, a page fault on the hot path
kernel.timer_migration|0|keep timers on the CPU that armed them instead of moving them onto other (hot) cores
vm.stat_interval|10|refresh per-CPU VM statistics every 10 s, not every second: fewer vmstat wake-ups on every core
vm.swappiness|1|swap only to avoid running out of memory: a swapped-out page is milliseconds on the hot path
vm.dirty_ratio|10|writers block once 10% of memory is dirty: smaller, steadier write-back of the journal
vm.dirty_background_ratio|5|background write-back starts at 5%, long before writers block
kernel.nmi_watchdog|0|no NMI watchdog: it interrupts every CPU, hot ones included, several times a minute
EOF_SETTINGS
}

# g_sysctl_path KEY -> /proc/sys/net/core/busy_read
g_sysctl_path() { printf '/proc/sys/%s' "${1//.//}"; }
