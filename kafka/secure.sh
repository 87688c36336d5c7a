#!/usr/bin/env bash
# A second local single-node Kafka broker (KRaft) with TLS, mutual TLS and SASL, for tests of a
# client's security settings. Own ports, data and JVM: it runs next to kafka/start.sh's broker.
#
#   bash kafka/secure.sh start           # idempotent; the first run makes certificates and users
#   bash kafka/secure.sh stop [--wipe]   # --wipe also deletes kafka/.secure (data, certs, secrets)
#   bash kafka/secure.sh env             # KEY=value lines for test harnesses (ports, directory)
#
# Listeners, all on 127.0.0.1 (B = KAFKA_SECURE_BASE_PORT, default 9192):
#   B    SASL_SSL    SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; server certificate from the test CA
#   B+1  SSL         mutual TLS: a client certificate signed by the test CA is required;
#                    CN=factory-sim-client becomes the principal User:factory-sim-client
#   B+2  PLAINTEXT   internal: inter-broker traffic, and test setup/readback (User:ANONYMOUS is a
#                    super user, so anything goes here)
#   B+3  CONTROLLER  KRaft
#
# Users (passwords in kafka/.secure/secrets/<user>.password, random, mode 600, no trailing newline):
#   sim        SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN
#   admin      SCRAM-SHA-512 and PLAIN; super user
#   outsider   SCRAM-SHA-256; no ACLs at all
# ACLs for User:sim and User:factory-sim-client: Write, Describe, Create, DescribeConfigs on topics
# prefixed "sim."; Write and Describe (no Create) on topics prefixed "nocreate."; IdempotentWrite on
# the cluster. auto.create.topics.enable=false and allow.everyone.if.no.acl.found=false.
#
# Files for clients in kafka/.secure (PEM, made once with keytool + openssl, valid 3650 days):
#   ca.pem                 the test CA's certificate (trust it to verify the broker)
#   client.pem             client certificate CN=factory-sim-client + the CA (chain for mTLS)
#   client.key             its private key, unencrypted PKCS#8
#   client-encrypted.key   the same key, encrypted PKCS#8; passphrase in client-key.password
#   other-ca.pem           an unrelated CA: trusting only it must make TLS fail
#
# Environment:
#   KAFKA_VERSION               Kafka release to run (default 4.1.1)
#   KAFKA_SECURE_DIR            certificates, secrets, data and logs (default kafka/.secure)
#   KAFKA_SECURE_BASE_PORT      first of the four ports above (default 9192)
#   KAFKA_SECURE_HEAP_OPTS      JVM heap flags (default -Xmx384m)
#   KAFKA_SECURE_START_TIMEOUT  seconds to wait for the broker to be ready (default 60)
#   KAFKA_STOP_TIMEOUT          seconds `stop` waits after SIGTERM before SIGKILL (default 20)
#
# Needs java 17+ (keytool), openssl and kcat; mvn once, to fetch the Kafka jars and kafka-tools.
# Note: kcat with librdkafka < 2.6.1 (Debian 12: 2.0.2) cannot log in with SCRAM to Kafka 4.x (the
# broker answers "invalid credentials"); with kcat use PLAIN, mTLS or PLAINTEXT. Readiness = kcat
# metadata over PLAINTEXT + PLAIN over SASL_SSL, then one SCRAM-SHA-256 login with the Java client.
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=kafka/lib.sh
source "$KAFKA_DIR/lib.sh"

# lib.sh's say/die, with a prefix that tells this broker's messages from kafka/start.sh's.
say() { echo "[kafka-secure] $*"; }
die() {
  echo "[kafka-secure] error: $*" >&2
  exit 1
}

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

# --- Settings -------------------------------------------------------------------------------
SECURE_DIR="${KAFKA_SECURE_DIR:-$KAFKA_DIR/.secure}"
[[ "$SECURE_DIR" == /* ]] || SECURE_DIR="$PWD/$SECURE_DIR"
SECURE_DIR="${SECURE_DIR%/}"
SECURE_HEAP_OPTS="${KAFKA_SECURE_HEAP_OPTS:--Xmx384m}"
SECURE_START_TIMEOUT="${KAFKA_SECURE_START_TIMEOUT:-60}"

BASE_PORT="${KAFKA_SECURE_BASE_PORT:-9192}"
if [[ ! "$BASE_PORT" =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT > 65532)); then
  die "KAFKA_SECURE_BASE_PORT must be a number from 1024 to 65532 (it uses that port and the next three), not '$BASE_PORT'"
fi
SASL_SSL_PORT=$BASE_PORT
SSL_PORT=$((BASE_PORT + 1))
PLAINTEXT_PORT=$((BASE_PORT + 2))
CONTROLLER_PORT=$((BASE_PORT + 3))
SASL_SSL_ADDR="127.0.0.1:$SASL_SSL_PORT"
SSL_ADDR="127.0.0.1:$SSL_PORT"
PLAINTEXT_ADDR="127.0.0.1:$PLAINTEXT_PORT"
LISTENERS_LINE="listeners=SASL_SSL://$SASL_SSL_ADDR,SSL://$SSL_ADDR,PLAINTEXT://$PLAINTEXT_ADDR,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"

# Own cluster id (base64url of "factory-sim-secr"), so it is never mistaken for the main broker.
SECURE_CLUSTER_ID="ZmFjdG9yeS1zaW0tc2Vjcg"
SECURE_MARKER=".factory-sim-kafka-secure" # `stop --wipe` only deletes a dir holding this file

PKI_DIR="$SECURE_DIR/pki"         # keystores (PKCS12) and their password; broker side
SECRETS_DIR="$SECURE_DIR/secrets" # <user>.password
DATA_DIR="$SECURE_DIR/data"
# These names are lib.sh's globals, which its own_pid and friends read: point them here.
KRAFT_DIR="$DATA_DIR/kraft-logs"
LOGS_DIR="$DATA_DIR/logs"
SERVER_LOG="$LOGS_DIR/server.log"
OUT_FILE="$DATA_DIR/kafka.out"
PID_FILE="$DATA_DIR/kafka.pid"
PROPS_FILE="$DATA_DIR/server.properties"
ACLS_FILE="$DATA_DIR/acls.applied" # the ACL spec last applied to this data dir

STORE_PASSWORD_FILE="$PKI_DIR/store.password"
CA_PEM="$SECURE_DIR/ca.pem"
OTHER_CA_PEM="$SECURE_DIR/other-ca.pem"
CLIENT_PEM="$SECURE_DIR/client.pem"
CLIENT_KEY="$SECURE_DIR/client.key"
CLIENT_ENC_KEY="$SECURE_DIR/client-encrypted.key"
CLIENT_KEY_PASSWORD_FILE="$SECURE_DIR/client-key.password"
CLIENT_CN="factory-sim-client"
CERT_DAYS=3650

USERS=(sim admin outsider)
# --add-scram arguments of `StorageTool format`, per user: which SCRAM mechanisms they get.
scram_mechanisms() { # USER
  case "$1" in
    sim) echo "SCRAM-SHA-256 SCRAM-SHA-512" ;;
    admin) echo "SCRAM-SHA-512" ;;
    outsider) echo "SCRAM-SHA-256" ;;
  esac
}
PLAIN_USERS=(sim admin)

# AclCommand and TopicCommand live in the kafka-tools artifact (org.apache.kafka.tools.*), which
# the broker's dependency tree (kafka/pom.xml) does not include: ensure_tools_jar (lib.sh) fetches it.

# Short-lived JVMs (format, AclCommand): C1 only starts faster and is plenty for them.
TOOL_JAVA_OPTS=(-Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

password() { cat "$SECRETS_DIR/$1.password"; }

# --- Helpers ----------------------------------------------------------------------------------

# Prints the pid from PID_FILE if it is alive and runs a broker with this script's config.
secure_pid() {
  local pid args
  pid="$(own_pid)" || return 1
  args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || ps -p "$pid" -o args= 2>/dev/null || true)"
  [[ "$args" == *"$PROPS_FILE"* ]] || return 1
  echo "$pid"
}

plaintext_ready() {
  port_open "$PLAINTEXT_PORT" && kcat -L -b "$PLAINTEXT_ADDR" -m 2 >/dev/null 2>&1
}

# A SASL PLAIN login as sim over TLS, verifying the broker's certificate against ca.pem.
# Not SCRAM: kcat's librdkafka before 2.6.1 (Debian 12 has 2.0.2) sends a SCRAM client-final
# nonce that Kafka 4.x rejects ("invalid credentials"; librdkafka PR #4895). scram_login_ok checks
# SCRAM with Kafka's own Java client instead, once per start.
sasl_ssl_ready() {
  port_open "$SASL_SSL_PORT" && [[ -f "$SECRETS_DIR/sim.password" && -f "$CA_PEM" ]] &&
    kcat -L -b "$SASL_SSL_ADDR" -m 3 -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN \
      -X sasl.username=sim -X sasl.password="$(password sim)" -X ssl.ca.location="$CA_PEM" >/dev/null 2>&1
}

broker_ready() { plaintext_ready && sasl_ssl_ready; }

# A SCRAM-SHA-256 login as sim over SASL_SSL with the Java client (BrokerApiVersionsCommand: the
# ApiVersions request needs no ACL, so only authentication can fail). About 2 s of JVM.
scram_login_ok() {
  local conf="$DATA_DIR/scram-check.properties"
  {
    echo "security.protocol=SASL_SSL"
    echo "sasl.mechanism=SCRAM-SHA-256"
    echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"sim\" password=\"$(password sim)\";"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$CA_PEM"
  } >"$conf"
  run_with_timeout 60 "${TOOL_JAVA[@]}" "$ADMIN_PKG.BrokerApiVersionsCommand" \
    --bootstrap-server "$SASL_SSL_ADDR" --command-config "$conf" >"$DATA_DIR/scram-check.log" 2>&1 &&
    grep -q "^$SASL_SSL_ADDR" "$DATA_DIR/scram-check.log"
}

check_ports() {
  local p
  for p in "$SASL_SSL_PORT" "$SSL_PORT" "$PLAINTEXT_PORT" "$CONTROLLER_PORT"; do
    if [[ "$p" == "$KAFKA_PORT" || "$p" == "$KAFKA_CONTROLLER_PORT" ]]; then
      die "port $p (KAFKA_SECURE_BASE_PORT=$BASE_PORT uses $SASL_SSL_PORT-$CONTROLLER_PORT) collides with the main broker's KAFKA_PORT=$KAFKA_PORT / KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT; pick another KAFKA_SECURE_BASE_PORT"
    fi
  done
}

need_tools() {
  local tool
  for tool in java keytool openssl kcat; do
    command -v "$tool" >/dev/null 2>&1 || case "$tool" in
      java | keytool) die "$tool not found on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)" ;;
      openssl) die "openssl not found on PATH: needed to export the client key as PEM (Debian: apt-get install openssl)" ;;
      kcat) die "kcat not found on PATH: needed for the readiness check over SASL_SSL (Debian: apt-get install kcat)" ;;
    esac
  done
}

# Runs a Kafka CLI class against the jars. Its log4j output goes to logs/tools/server.log, not to
# the broker's server.log (two processes must not share one rolling file).
# Kafka 4 moved AclCommand and BrokerApiVersionsCommand from kafka.admin (core jar) to
# org.apache.kafka.tools (kafka-tools jar).
if [[ "$KAFKA_VERSION" == 3.* ]]; then ADMIN_PKG=kafka.admin; else ADMIN_PKG=org.apache.kafka.tools; fi
TOOL_JAVA=(java "${TOOL_JAVA_OPTS[@]}" "-Dkafka.logs.dir=$LOGS_DIR/tools"
  "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" -cp "$JARS_DIR/*:$TOOLS_JAR")
kafka_tool() { "${TOOL_JAVA[@]}" "$@"; } # CLASS ARGS...

# A random secret (32 hex chars) in FILE, made once. No trailing newline, so that reading the file
# gives exactly the password (keytool/openssl -pass file: and JS readFileSync alike).
ensure_secret() { # FILE
  [[ -s "$1" ]] && return 0
  openssl rand -hex 16 | tr -d '\n' >"$1.tmp"
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}

# --- Certificates -----------------------------------------------------------------------------
# All made by keytool (CA with basicConstraints CA:true, leaf certificates signed by it via
# -certreq/-gencert); openssl only converts the client's PKCS12 key to PEM, which keytool cannot.
make_pki() {
  local out="$PKI_DIR.tmp.$$" log t0
  t0="$(now_ns)"
  rm -rf "$out"
  mkdir -p "$out"
  log="$out/pki.log"
  local pw="$out/store.password"
  ensure_secret "$pw"

  kt() { keytool -J-XX:TieredStopAtLevel=1 -noprompt "$@" >>"$log" 2>&1 || {
    tail -n 20 "$log" >&2
    die "keytool $1 failed while making the test certificates (log: $log)"
  }; }
  ossl() { openssl "$@" 2>>"$log" || {
    tail -n 20 "$log" >&2
    die "openssl $1 failed while exporting the client key (log: $log)"
  }; }
  # keytool -genkeypair for a key in a new PKCS12 store. (PKCS12 wants key password = store password.)
  genkey() { # STORE ALIAS DNAME EXT...
    local store="$1" alias="$2" dname="$3"
    shift 3
    kt -genkeypair -storetype PKCS12 -keystore "$out/$store" -storepass:file "$pw" -alias "$alias" \
      -keyalg RSA -keysize 2048 -validity "$CERT_DAYS" -dname "$dname" "$@"
  }
  # A leaf key pair in STORE, signed by the test CA; the CA goes into STORE first, so that keytool
  # accepts the signed certificate as the key's chain. Leaves the certificate in out/ALIAS.crt.
  signed_leaf() { # STORE ALIAS DNAME EXT...
    local store="$1" alias="$2" dname="$3"
    shift 3
    genkey "$store" "$alias" "$dname"
    kt -certreq -keystore "$out/$store" -storepass:file "$pw" -alias "$alias" -file "$out/$alias.csr"
    kt -gencert -keystore "$out/ca.p12" -storepass:file "$pw" -alias ca -infile "$out/$alias.csr" \
      -outfile "$out/$alias.crt" -rfc -validity "$CERT_DAYS" "$@"
    kt -importcert -keystore "$out/$store" -storepass:file "$pw" -alias ca -file "$out/ca.pem"
    kt -importcert -keystore "$out/$store" -storepass:file "$pw" -alias "$alias" -file "$out/$alias.crt"
  }

  genkey ca.p12 ca "CN=factory-sim test CA,O=factory-sim" -ext bc:c -ext ku:c=keyCertSign,cRLSign
  kt -exportcert -rfc -keystore "$out/ca.p12" -storepass:file "$pw" -alias ca -file "$out/ca.pem"
  # Clients connect to 127.0.0.1 (the advertised address) or localhost: both must match the SAN.
  signed_leaf broker.p12 broker "CN=localhost,O=factory-sim" -ext SAN=ip:127.0.0.1,dns:localhost \
    -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth,clientAuth
  kt -importcert -storetype PKCS12 -keystore "$out/truststore.p12" -storepass:file "$pw" -alias ca -file "$out/ca.pem"
  signed_leaf client.p12 client "CN=$CLIENT_CN" -ext ku:c=digitalSignature,keyEncipherment -ext eku=clientAuth
  genkey other-ca.p12 other-ca "CN=unrelated test CA,O=elsewhere" -ext bc:c -ext ku:c=keyCertSign,cRLSign
  kt -exportcert -rfc -keystore "$out/other-ca.p12" -storepass:file "$pw" -alias other-ca -file "$out/other-ca.pem"

  # PEM files for clients (Node/Deno TLS): the chain, and the key as plain and encrypted PKCS#8.
  cat "$out/client.crt" "$out/ca.pem" >"$out/client.pem"
  ossl pkcs12 -in "$out/client.p12" -passin "file:$pw" -nocerts -nodes -out "$out/client.p12.key"
  ossl pkey -in "$out/client.p12.key" -out "$out/client.key" # drops the "Bag Attributes" header
  rm -f "$out/client.p12.key"
  ensure_secret "$out/client-key.password"
  ossl pkey -in "$out/client.key" -aes-256-cbc -passout "file:$out/client-key.password" -out "$out/client-encrypted.key"

  local f
  for f in ca.pem other-ca.pem client.pem client.key client-encrypted.key client-key.password; do
    mv "$out/$f" "$SECURE_DIR/$f"
  done
  rm -f "$out"/*.csr
  rm -rf "$PKI_DIR"
  mv "$out" "$PKI_DIR"
  say "test CA, broker and client certificates made with keytool ($(elapsed_since "$t0"))"
}

pki_complete() {
  local f
  for f in "$PKI_DIR/broker.p12" "$PKI_DIR/truststore.p12" "$STORE_PASSWORD_FILE" "$CA_PEM" "$OTHER_CA_PEM" \
    "$CLIENT_PEM" "$CLIENT_KEY" "$CLIENT_ENC_KEY" "$CLIENT_KEY_PASSWORD_FILE"; do
    [[ -s "$f" ]] || return 1
  done
}

# --- Broker config ----------------------------------------------------------------------------
write_props() {
  local store_pw plain_users="" u
  store_pw="$(cat "$STORE_PASSWORD_FILE")"
  for u in "${PLAIN_USERS[@]}"; do plain_users+=" user_$u=\"$(password "$u")\""; done
  {
    echo "# Generated by kafka/secure.sh (holds passwords). The base is kafka/server.properties;"
    echo "# the keys after it override it (later keys win in a .properties file)."
    cat "$KAFKA_DIR/server.properties"
    echo
    echo "# --- set by kafka/secure.sh ---"
    echo "log.dirs=$KRAFT_DIR"
    echo "controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT"
    echo "$LISTENERS_LINE"
    echo "advertised.listeners=SASL_SSL://$SASL_SSL_ADDR,SSL://$SSL_ADDR,PLAINTEXT://$PLAINTEXT_ADDR"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL"
    echo "controller.listener.names=CONTROLLER"
    # The broker talks to itself in plain text, so it needs no SASL/TLS client settings of its own.
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "auto.create.topics.enable=false"
    echo
    echo "# TLS: one server certificate for SASL_SSL and SSL; client certificates only on SSL."
    echo "ssl.keystore.type=PKCS12"
    echo "ssl.keystore.location=$PKI_DIR/broker.p12"
    echo "ssl.keystore.password=$store_pw"
    echo "ssl.key.password=$store_pw"
    echo "ssl.truststore.type=PKCS12"
    echo "ssl.truststore.location=$PKI_DIR/truststore.p12"
    echo "ssl.truststore.password=$store_pw"
    echo "listener.name.ssl.ssl.client.auth=required"
    # Principal of an mTLS client = the certificate's CN (User:factory-sim-client), not the whole DN.
    # shellcheck disable=SC2016  # $1 is the rule's back reference, for Kafka
    echo 'ssl.principal.mapping.rules=RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT'
    echo
    echo "# SASL on SASL_SSL. SCRAM credentials live in the cluster metadata (StorageTool format --add-scram);"
    echo "# PLAIN users are the user_NAME=\"password\" entries of the JAAS config."
    echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;"
    echo "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo
    echo "# Authorization: nothing is allowed without an ACL, except for the super users."
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "super.users=User:admin;User:ANONYMOUS"
    echo "allow.everyone.if.no.acl.found=false"
  } >"$PROPS_FILE.tmp"
  mv "$PROPS_FILE.tmp" "$PROPS_FILE"
}

format_storage() {
  local args=() u m t0
  t0="$(now_ns)"
  for u in "${USERS[@]}"; do
    for m in $(scram_mechanisms "$u"); do
      args+=(--add-scram "$m=[name=$u,password=$(password "$u")]")
    done
  done
  say "formatting $KRAFT_DIR (cluster id $SECURE_CLUSTER_ID) with SCRAM users ${USERS[*]}"
  if ! kafka_tool kafka.tools.StorageTool format -t "$SECURE_CLUSTER_ID" -c "$PROPS_FILE" "${args[@]}" \
    >"$DATA_DIR/format.log" 2>&1; then
    tail -n 30 "$DATA_DIR/format.log" >&2
    die "formatting the KRaft log dir failed (log: $DATA_DIR/format.log)"
  fi
  echo "$KAFKA_VERSION" >"$DATA_DIR/kafka.version"
  say "formatted ($(elapsed_since "$t0"))"
}

# --- ACLs -------------------------------------------------------------------------------------
ACL_PRINCIPALS=(User:sim "User:$CLIENT_CN")
# One AclCommand run per line: the operations must suit every resource of a run, and the cluster
# resource cannot take --resource-pattern-type prefixed.
ACL_SPECS=(
  "--resource-pattern-type prefixed --topic sim. --operation Write --operation Describe --operation Create --operation DescribeConfigs"
  "--resource-pattern-type prefixed --topic nocreate. --operation Write --operation Describe"
  "--cluster --operation IdempotentWrite"
)

# Adds the ACLs over PLAINTEXT (as the super user ANONYMOUS). Adding an existing ACL is a no-op, so
# this is idempotent; ACLS_FILE only saves the JVM runs on a warm restart.
apply_acls() {
  local spec_text i pids=() failed=0 principal_args=() p t0
  spec_text="$(printf '%s\n' "${ACL_PRINCIPALS[*]}" "${ACL_SPECS[@]}")"
  [[ -f "$ACLS_FILE" && "$(cat "$ACLS_FILE")" == "$spec_text" ]] && return 0
  t0="$(now_ns)"
  for p in "${ACL_PRINCIPALS[@]}"; do principal_args+=(--allow-principal "$p"); done
  for i in "${!ACL_SPECS[@]}"; do
    # shellcheck disable=SC2086  # each spec is a list of flags without spaces in their values
    kafka_tool "$ADMIN_PKG.AclCommand" --bootstrap-server "$PLAINTEXT_ADDR" --add \
      "${principal_args[@]}" ${ACL_SPECS[$i]} >"$DATA_DIR/acl-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      tail -n 20 "$DATA_DIR/acl-$i.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || die "AclCommand failed (logs: $DATA_DIR/acl-*.log)"
  echo "$spec_text" >"$ACLS_FILE"
  say "ACLs for ${ACL_PRINCIPALS[*]} added ($(elapsed_since "$t0"))"
}

# --- Commands ---------------------------------------------------------------------------------
cmd_env() {
  echo "SECURE_SASL_SSL=$SASL_SSL_ADDR"
  echo "SECURE_SSL=$SSL_ADDR"
  echo "SECURE_PLAINTEXT=$PLAINTEXT_ADDR"
  echo "SECURE_DIR=$SECURE_DIR"
}

cmd_start() {
  local start_ns pid log_offset out_offset
  start_ns="$(now_ns)"
  check_ports
  need_tools

  mkdir -p "$SECURE_DIR"
  touch "$SECURE_DIR/$SECURE_MARKER"
  # One start at a time (a second one waits, then finds the broker running).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$SECURE_DIR/.start.lock"
    flock -w $((SECURE_START_TIMEOUT + 180)) 9 || die "timed out waiting for another kafka/secure.sh start"
  fi

  if broker_ready; then
    # (The login used this dir's CA and password, so the broker serves this dir's certificates.)
    if pid="$(secure_pid)"; then
      apply_acls
      say "already running: SASL_SSL $SASL_SSL_ADDR, SSL $SSL_ADDR, PLAINTEXT $PLAINTEXT_ADDR (pid $pid, dir $SECURE_DIR)"
    else
      say "already running on SASL_SSL $SASL_SSL_ADDR (not started by this script: no live pid in $PID_FILE)"
    fi
    return 0
  fi

  # Fail fast, before making certificates, when the broker cannot start here.
  pid="$(secure_pid || true)"
  if [[ -n "$pid" ]]; then
    # Same dir, other KAFKA_SECURE_BASE_PORT: waiting for it on these ports would never succeed.
    grep -qxF "$LISTENERS_LINE" "$PROPS_FILE" ||
      die "the broker of $SECURE_DIR (pid $pid) runs with other ports ($(grep '^listeners=' "$PROPS_FILE" | tail -n 1 || true)); stop it first: bash kafka/secure.sh stop"
  else
    local p
    for p in "$SASL_SSL_PORT" "$SSL_PORT" "$PLAINTEXT_PORT" "$CONTROLLER_PORT"; do
      port_open "$p" && die "port $p on 127.0.0.1 is in use by something that is not a ready broker of $SECURE_DIR; free it or set KAFKA_SECURE_BASE_PORT"
    done
  fi

  ensure_jars
  ensure_tools_jar

  # From here on everything written holds keys or passwords: owner only.
  umask 077
  mkdir -p "$PKI_DIR" "$SECRETS_DIR" "$LOGS_DIR"

  # SCRAM credentials are written into the metadata log once, at format time: passwords made
  # after that would not match the broker's, so a formatted dir must still have all of them.
  local u
  for u in "${USERS[@]}"; do
    if [[ ! -s "$SECRETS_DIR/$u.password" && -f "$KRAFT_DIR/meta.properties" ]]; then
      die "$SECRETS_DIR/$u.password is missing, but $KRAFT_DIR already holds the SCRAM users: start afresh with: bash kafka/secure.sh stop --wipe"
    fi
    ensure_secret "$SECRETS_DIR/$u.password"
  done
  pki_complete || make_pki

  if [[ -n "$pid" ]]; then
    say "broker (pid $pid) is already starting; waiting for it"
    log_offset=0
    out_offset=0
  else
    rm -f "$PID_FILE"
    write_props

    local formatted_by
    formatted_by="$(cat "$DATA_DIR/kafka.version" 2>/dev/null || true)"
    if [[ -f "$KRAFT_DIR/meta.properties" && -n "$formatted_by" && "$formatted_by" != "$KAFKA_VERSION" &&
      "$(printf '%s\n' "$formatted_by" "$KAFKA_VERSION" | sort -V | head -n 1)" == "$KAFKA_VERSION" ]]; then
      die "$DATA_DIR was formatted by Kafka $formatted_by, which Kafka $KAFKA_VERSION cannot read: bash kafka/secure.sh stop --wipe"
    fi
    [[ -f "$KRAFT_DIR/meta.properties" ]] || format_storage

    log_offset="$(file_size "$SERVER_LOG")"
    out_offset="$(file_size "$OUT_FILE")"

    launch_kafka "$PROPS_FILE" "$DATA_DIR" "$OUT_FILE" "$LOGS_DIR" "$SECURE_HEAP_OPTS"
    pid="$KAFKA_LAUNCHED"
    echo "$pid" >"$PID_FILE"
  fi

  fail() { report_start_failure "$1" "$SERVER_LOG" "$log_offset" "$OUT_FILE" "$out_offset"; }

  # Ready = metadata over PLAINTEXT and a PLAIN login over TLS (proves the certificates); then one
  # SCRAM login below proves the SCRAM users from format time.
  local deadline=$((SECONDS + SECURE_START_TIMEOUT))
  until broker_ready; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      fail "Kafka (pid $pid) exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      local why="PLAINTEXT $PLAINTEXT_ADDR serves no metadata"
      plaintext_ready && why="a PLAIN login as sim over SASL_SSL $SASL_SSL_ADDR fails"
      stop_pid "$pid" 10 >/dev/null
      rm -f "$PID_FILE"
      fail "Kafka (pid $pid) was not ready within ${SECURE_START_TIMEOUT}s: $why (stopped it)"
    fi
    sleep 0.5
  done

  # SCRAM check and ACLs (both JVM runs) side by side.
  local scram_pid
  scram_login_ok &
  scram_pid=$!
  apply_acls
  if ! wait "$scram_pid"; then
    stop_pid "$pid" 10 >/dev/null
    rm -f "$PID_FILE"
    tail -n 15 "$DATA_DIR/scram-check.log" >&2
    die "a SCRAM-SHA-256 login as sim over SASL_SSL $SASL_SSL_ADDR failed, though PLAIN works (stopped the broker; log: $DATA_DIR/scram-check.log). SCRAM users are stored at format time: if $SECRETS_DIR changed since, start afresh with: bash kafka/secure.sh stop --wipe"
  fi
  say "Kafka $KAFKA_VERSION ready in $(elapsed_since "$start_ns"): SASL_SSL $SASL_SSL_ADDR, SSL $SSL_ADDR, PLAINTEXT $PLAINTEXT_ADDR (pid $pid, dir $SECURE_DIR)"
}

cmd_stop() {
  local wipe=0 arg pid
  for arg in "$@"; do
    case "$arg" in
      --wipe) wipe=1 ;;
      *) die "unknown argument: $arg (usage: secure.sh stop [--wipe])" ;;
    esac
  done

  if pid="$(secure_pid)"; then
    stop_broker "$pid"
    rm -f "$PID_FILE"
  else
    rm -f "$PID_FILE"
    if plaintext_ready; then
      say "no broker started by secure.sh (no live pid in $PID_FILE); the one on $PLAINTEXT_ADDR is someone else's: left running"
    else
      say "Kafka not running"
    fi
  fi

  if ((wipe)); then wipe_dir "$SECURE_DIR" "$SECURE_MARKER" secure.sh; fi
}

case "${1:-}" in
  start)
    shift
    (($# == 0)) || die "unknown argument: $1 (usage: secure.sh start)"
    cmd_start
    ;;
  stop)
    shift
    cmd_stop "$@"
    ;;
  env)
    cmd_env
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
