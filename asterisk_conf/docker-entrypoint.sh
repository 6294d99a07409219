#!/bin/sh
# Sistem 48 - install asterisk_conf/ into /etc/asterisk with the secrets filled in.
#
# The committed *.conf files hold placeholders CHANGE_ME_<NAME>; each is replaced
# by the value of the environment variable <NAME> (for example
# CHANGE_ME_S48_AMI_SECRET -> $S48_AMI_SECRET). Asterisk is not started while a
# placeholder has no value, or a value could break the config syntax.
# Then the image's own entrypoint runs with the given command.
#
#   SRC      read-only mount of asterisk_conf/   (default /etc/asterisk-sistem48)
#   DST      Asterisk's config directory          (default /etc/asterisk)
#   NEXT     the image's entrypoint               (default /usr/local/bin/entrypoint.sh)
set -eu

SRC="${SISTEM48_CONF_SRC:-/etc/asterisk-sistem48}"
DST="${SISTEM48_CONF_DST:-/etc/asterisk}"
NEXT="${SISTEM48_NEXT_ENTRYPOINT:-/usr/local/bin/entrypoint.sh}"

missing=""
for conf in "$SRC"/*.conf; do
    for token in $(grep -o 'CHANGE_ME_[A-Z0-9_][A-Z0-9_]*' "$conf" | sort -u); do
        name="${token#CHANGE_ME_}"
        value="$(printenv "$name" || true)"
        case "$value" in
            "")
                missing="$missing $name" ;;
            *";"* | *"
"* | *CHANGE_ME*)
                echo "sistem48: $name contains ';', a newline or CHANGE_ME; refusing" >&2
                exit 64 ;;
        esac
    done
done
if [ -n "$missing" ]; then
    echo "sistem48: set these environment variables first:$missing" >&2
    exit 64
fi

umask 027
for conf in "$SRC"/*.conf; do
    target="$DST/$(basename "$conf")"
    awk '{
        out = ""; rest = $0
        while (match(rest, /CHANGE_ME_[A-Z0-9_]+/)) {
            out = out substr(rest, 1, RSTART - 1) ENVIRON[substr(rest, RSTART + 10, RLENGTH - 10)]
            rest = substr(rest, RSTART + RLENGTH)
        }
        print out rest
    }' "$conf" > "$target.tmp"
    mv "$target.tmp" "$target"
    if id asterisk >/dev/null 2>&1; then
        chown asterisk:asterisk "$target"
    fi
done

exec "$NEXT" "$@"
