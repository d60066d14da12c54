#!/usr/bin/env bash
# A private RabbitMQ node for the AppHost (Debian's rabbitmq-server), run by DCP as the `messaging` resource.
# The environment (node name, ports, data and config locations) comes from LocalRabbitMqResource.
#
# Why a wrapper: rabbitmq-server starts the Erlang port mapper (epmd) as a daemon, which would outlive the broker
# and this AppHost. Here epmd runs in the foreground as our child, with a parent-death signal, so it ends with the
# node; and the node replaces this shell (exec), so the resource's process *is* the Erlang VM: when DCP stops it,
# or a test kills it, nothing of it is left.
set -euo pipefail

epmd=/usr/bin/epmd
[ -x "$epmd" ] || epmd=/usr/lib/erlang/bin/epmd

setpriv --pdeathsig KILL -- "$epmd" -port "$ERL_EPMD_PORT" -address 127.0.0.1 &

# RABBITMQ_ALLOW_INPUT makes rabbitmq-server exec the VM instead of forking it; -noinput keeps the VM off stdin.
export RABBITMQ_ALLOW_INPUT=true
exec "${CREMAD_RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}"
