#!/usr/bin/env bash
# The command-line tools end to end on a fresh SQLite file: create a patient,
# import a multiprovider fixture, print the merged record, export it, and
# validate the export as FHIR R4 with fhirkit-rs.
set -euo pipefail
cd "$(dirname "$0")/.."
kith=./target/debug/kith
fixtures=../shared/fixtures/multiprovider/ray
dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
export KITH_DATABASE_URL="sqlite://$dir/kith.db" KITH_AUDIT_KEY_FILE="$dir/audit.key" KITH_LOG=warn

fail() { echo "cli-test: $*" >&2; exit 1; }

echo "kettle orange stairs" | $kith user add --email ray@example.com --name "Ray Lindgren" --role patient --nhs-number 9992649690 --birth-date 1995-06-22 >/dev/null
# A clinician the operator added is not checked for emergency access until
# the operator says so; only clinicians can be checked.
echo "kettle orange stairs" | $kith user add --email dr@example.com --name "Dr Check" --role clinician --organisation "Otley GP" | grep -q "verify-clinician" \
  || fail "adding a clinician does not say how to check them"
$kith user verify-clinician --email Dr@Example.com | grep -q "may use emergency access" || fail "verify-clinician did not say it checked them"
if $kith user verify-clinician --email ray@example.com 2>/dev/null; then fail "a patient was checked as a clinician"; fi
# The operator sets a new password for someone who cannot get a link; a weak
# one is refused, and an unknown address says so.
if echo "short" | $kith user set-password --email ray@example.com 2>"$dir/err"; then fail "a weak password was set"; fi
grep -q "10 characters" "$dir/err" || fail "a weak password's refusal does not say why: $(cat "$dir/err")"
echo "velvet canyon morning" | $kith user set-password --email Ray@Example.com | grep -q "every session" || fail "set-password did not say what it did"
if echo "velvet canyon morning" | $kith user set-password --email nobody@example.com 2>/dev/null; then fail "set-password found nobody's account"; fi
# At a terminal the password is asked for twice and never shown: a real
# pseudo-terminal, answering each prompt once it appears.
tty_set_password() {
  python3 - "$kith" "$1" "$2" <<'PY'
import os, pty, select, sys, termios, time
kith, first, second = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(kith, [kith, "user", "set-password", "--email", "ray@example.com"])
out = b""
def wait_for(text):
    global out
    end = time.time() + 60
    while text not in out:
        if time.time() > end:
            sys.exit(f"waited for {text!r}; the terminal showed {out!r}")
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                chunk = b""
            if not chunk:
                sys.exit(f"ended before {text!r}; the terminal showed {out!r}")
            out += chunk
def answer(prompt, text):
    wait_for(prompt)
    # The prompt is printed before echo is turned off: wait for that (on
    # Linux the master side reads the terminal's settings), then type.
    end = time.time() + 10
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        if time.time() > end:
            sys.exit(f"echo was never turned off after {prompt!r}")
        time.sleep(0.05)
    os.write(fd, text + b"\n")
answer(b"New password for ray@example.com: ", first)
answer(b"The same password again: ", second)
wait_for(b"every session" if first == second else b"were not the same")
os.waitpid(pid, 0)
if first in out or second in out:
    sys.exit("the password was shown at the terminal")
PY
}
tty_set_password "quiet river lamp" "quiet river lamp" || fail "set-password at a terminal"
tty_set_password "quiet river lamp" "quiet river lamb" || fail "set-password at a terminal with two different passwords"
$kith user confirm-email --email Ray@Example.com | grep -q "may now email" || fail "confirm-email did not say what it did"
if $kith user confirm-email --email nobody@example.com 2>/dev/null; then fail "confirm-email found nobody's account"; fi
$kith import --nhs-number 9992649690 --source-kind gp --json "$fixtures"/01-*.json > "$dir/gp.json"
python3 - "$dir/gp.json" <<'PY'
import json, sys
[s] = json.load(open(sys.argv[1]))
assert s["outcome"] == "accepted" and s["new"] == 1029 and s["unchanged"] == 0, s
PY
$kith import --nhs-number 9992649690 --source-kind hospital "$fixtures"/02-*.json >/dev/null
$kith import --nhs-number 9992649690 --source-kind community "$fixtures"/03-*.json >/dev/null

# A refused file: non-zero exit, the reason names both NHS Numbers, nothing stored.
if $kith import --nhs-number 9992649690 --source-kind gp --json "$fixtures/bad-wrong-patient.json" > "$dir/bad.json"; then
  fail "a feed for another patient was accepted"
fi
grep -q "999 636 3430" "$dir/bad.json" && grep -q "999 264 9690" "$dir/bad.json" || fail "refusal does not name both numbers: $(cat "$dir/bad.json")"

# Re-importing says nothing changed.
$kith import --nhs-number 9992649690 "$fixtures"/01-*.json | grep -q "nothing new" || fail "re-import did not say nothing changed"

# Several files in one command (each parsed while the one before is stored):
# outcomes in the order given, a refusal among them makes the exit non-zero.
if $kith import --nhs-number 9992649690 --json "$fixtures"/01-*.json "$fixtures/bad-wrong-patient.json" "$fixtures"/02-*.json > "$dir/many.json"; then
  fail "a set with a refused file exited zero"
fi
python3 - "$dir/many.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
assert [o["outcome"] for o in out] == ["accepted", "refused", "accepted"], out
assert "bad-wrong-patient.json" in out[1]["file"] and out[0]["new"] == 0 and out[2]["new"] == 0, out
PY

$kith record --nhs-number 9992649690 --json > "$dir/record.json"
python3 - "$dir/record.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
entries = r["entries"]
assert any(len({s["organisation"] for s in e["sources"]}) >= 2 for e in entries), "no merged entry"
assert any(e["disagreements"] for e in entries), "no disagreement flagged"
assert all(e["kind"] and e["label"] and e["sources"] for e in entries)
PY

$kith export --nhs-number 9992649690 > "$dir/export.json"
out="$(fhirkit validate "$dir/export.json" 2>&1)" || fail "export does not validate: $out"
case "$out" in *error*) fail "export has errors: $out" ;; esac
echo "CLI tests passed ($(python3 -c "import json;print(len(json.load(open('$dir/export.json'))['entry']))") resources exported, valid R4)"

# The access log: every import and read above is in it, as AuditEvents that
# validate; the chain checks; a changed row is named by `kith audit verify`.
$kith audit checkpoint | grep -q "Signed 1 chain heads" || fail "audit checkpoint did not sign the chain head"
[ "$(stat -c %a "$dir/audit.key")" = 600 ] || fail "the audit signing key is readable by others"
$kith audit export --nhs-number 9992649690 > "$dir/audit.json"
out="$(fhirkit validate "$dir/audit.json" 2>&1)" || fail "AuditEvent export does not validate: $out"
case "$out" in *error*) fail "AuditEvent export has errors: $out" ;; esac
python3 - "$dir/audit.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
# Four one-file imports, and the two accepted files of the set (the refused one left nothing).
actions = [e["resource"]["subtype"][0]["code"] for e in b["entry"]]
assert actions.count("import") == 6 and "view" in actions and "export" in actions, actions
PY
$kith audit export --nhs-number 9992649690 --format csv > "$dir/audit.csv"
head -1 "$dir/audit.csv" | grep -q '^seq,time,action' || fail "CSV export has no header"
$kith audit verify | grep -q "9992649690: ok" || fail "a fresh chain does not verify"
# The chain file is checked without the database, as a third party would.
$kith audit export --nhs-number 9992649690 --format chain > "$dir/chain.json"
out="$(KITH_DATABASE_URL=sqlite:///nonexistent/kith.db $kith audit verify-file "$dir/chain.json")" || fail "a fresh chain file does not verify: $out"
case "$out" in "ok, "*"1 signed checkpoints"*) ;; *) fail "verify-file said: $out" ;; esac
python3 - "$dir/chain.json" "$dir/chain-changed.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["records"][1]["what"] = "something else"
json.dump(f, open(sys.argv[2], "w"))
PY
if out="$($kith audit verify-file "$dir/chain-changed.json")"; then fail "verify-file passed a changed file: $out"; fi
case "$out" in *"BROKEN at record 2"*) ;; *) fail "verify-file did not name record 2: $out" ;; esac
python3 - "$dir/kith.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
try:
    db.execute("UPDATE audit_events SET actor_name = 'Nobody' WHERE seq = 2")
    raise SystemExit("the access log accepted an UPDATE")
except sqlite3.DatabaseError as e:
    assert "append-only" in str(e), e
db.execute("DROP TRIGGER audit_events_append_only_update")
db.execute("UPDATE audit_events SET actor_name = 'Nobody' WHERE seq = 2")
db.commit()
PY
if out="$($kith audit verify --nhs-number 9992649690)"; then fail "verify passed a changed log: $out"; fi
case "$out" in *"BROKEN at record 2"*) ;; *) fail "verify did not name record 2: $out" ;; esac
echo "CLI access-log tests passed"
