# bash completion for heed.
#
# Commands, flags and subcommands come from heed itself (`heed --help`,
# `heed help COMMAND`), so the completion offers exactly what the installed
# binary accepts. Installed to bash-completion's completions directory.

# The flags in the usage text of command $2 ($1: the heed binary): every
# -x or --word in the usage lines, and those that open a table line
# ("  -t, --timeout DUR  ...").
_heed_flags()
{
    "$1" help "$2" 2>/dev/null | awk '
        /^usage:/ { syn = 1 }
        syn && /^$/ { syn = 0 }
        syn {
            n = split($0, w, /[][ |]+/)
            for (i = 1; i <= n; i++)
                if (w[i] ~ /^--?[a-zA-Z][a-zA-Z0-9-]*$/) print w[i]
            next
        }
        /^ +-/ {
            s = $0
            sub(/^ +/, "", s)
            while (match(s, /^--?[a-zA-Z0-9][a-zA-Z0-9-]*/)) {
                print substr(s, 1, RLENGTH)
                s = substr(s, RLENGTH + 1)
                if (s !~ /^, /) break
                s = substr(s, 3)
            }
        }' | sort -u
}

# The IDs of a running agent's checks (checks get|rm|pause|resume ID): $1
# is heed, the rest the line's --addr, --token, --ns and TLS flags, else
# heed's environment (HEED_HTTP_ADDR, ...) finds the agent. Nothing when no
# agent answers within a second.
# The subcommands of command $2 ($1: the heed binary): the lower-case
# words after "heed COMMAND" in its usage lines ("heed checks rm|pause ID").
_heed_subcommands()
{
    "$1" help "$2" 2>/dev/null | awk -v cmd="$2" '
        /^usage:/ { syn = 1 }
        syn && /^$/ { exit }
        syn {
            for (i = 1; i < NF; i++)
                if ($i == "heed" && $(i + 1) == cmd && $(i + 2) ~ /^[a-z][a-z|]*$/) {
                    n = split($(i + 2), w, "|")
                    for (j = 1; j <= n; j++) print w[j]
                }
        }' | sort -u
}

_heed_check_ids()
{
    local heed=$1
    shift
    timeout 1 "$heed" checks list --json "$@" 2>/dev/null |
        grep -o '"id":"[^"]*"' | sed -e 's/^"id":"//' -e 's/"$//'
}

_heed()
{
    local cur prev heed cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    heed=${COMP_WORDS[0]}

    if [ "$COMP_CWORD" -eq 1 ]; then
        local cmds
        cmds=$("$heed" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
        mapfile -t COMPREPLY < <(compgen -W "$cmds --help --version" -- "$cur")
        return 0
    fi
    cmd=${COMP_WORDS[1]}

    # After `--` comes a command line of its own (wait, lock, watch).
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [ "${COMP_WORDS[i]}" = "--" ]; then
            if [ $((i + 1)) -eq "$COMP_CWORD" ]; then
                mapfile -t COMPREPLY < <(compgen -c -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            fi
            return 0
        fi
    done

    case $cmd in
        help)
            if [ "$COMP_CWORD" -eq 2 ]; then
                mapfile -t COMPREPLY < <(compgen -W "$("$heed" --help 2>/dev/null |
                    sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')" -- "$cur")
            fi
            return 0
            ;;
    esac

    # Flags that take a file or a directory.
    case $prev in
        -c | --config | -f | --cacert | --cert | --key)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return 0
            ;;
        --data-dir)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return 0
            ;;
    esac

    if [ "$cmd" = checks ] && [ "$COMP_CWORD" -eq 3 ] && [[ $cur != -* ]]; then
        case ${COMP_WORDS[2]} in
            get | rm | pause | resume | history)
                local -a conn=()
                for ((i = 2; i < ${#COMP_WORDS[@]} - 1; i++)); do
                    case ${COMP_WORDS[i]} in
                        --addr | --token | --ns | --cacert | --cert | --key)
                            conn+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
                    esac
                done
                mapfile -t COMPREPLY < <(compgen -W "$(_heed_check_ids "$heed" "${conn[@]}")" -- "$cur")
                return 0
                ;;
        esac
    fi

    if [ "$COMP_CWORD" -eq 2 ] && [[ $cur != -* ]]; then
        local subs
        subs=$(_heed_subcommands "$heed" "$cmd")
        if [ -n "$subs" ]; then
            mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            return 0
        fi
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_heed_flags "$heed" "$cmd")" -- "$cur")
        return 0
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    return 0
}

complete -F _heed heed
