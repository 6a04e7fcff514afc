"""A minimal REAPI worker for tests: one bot on BuildGrid's Remote Workers (Bots) API.

BuildGrid ships no Python worker, so the remote-execution test brings this one.
It runs under BuildGrid's own venv (it needs ``grpc`` and BuildGrid's generated
protos, which the project's venv does not have):

    .tools/buildgrid-venv/bin/python tests/support/reapi_bot.py \\
        --server 127.0.0.1:PORT --instance main --bot-id pycross-test-bot --work DIR

It takes a lease, reads the Action, its Command and input tree from CAS, runs
the command in a fresh directory below ``--work``, uploads the outputs, stdout
and stderr, and completes the lease with the ActionResult. While a command
runs, the session is kept alive every ``--keepalive`` seconds, so a server
configured with a short ``bot-session-keepalive-timeout`` notices a dead bot
quickly. Input files get mode 0755 or 0644 from ``is_executable``, as the
client sent them (Bazel 4.2.3 sends every input as executable).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2 as bs
from buildgrid._protos.google.bytestream import bytestream_pb2_grpc as bs_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc
from buildgrid._protos.google.rpc import code_pb2, status_pb2

PENDING, ACTIVE, COMPLETED = (bots_pb2.LeaseState.Value(n)
                              for n in ("PENDING", "ACTIVE", "COMPLETED"))
CHUNK = 1 << 20
BATCH_LIMIT = 2 << 20  # bytes per BatchUpdateBlobs request, under gRPC's 4 MiB default


def log(msg: str) -> None:
    print(f"[bot {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Cas:
    """Reads and writes blobs of one instance (ByteStream for content, CAS for the rest)."""

    def __init__(self, channel: grpc.Channel, instance: str, blob_dir: str) -> None:
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bs_grpc.ByteStreamStub(channel)
        self.blob_dir = blob_dir  # local copies, one per digest, shared by actions
        os.makedirs(blob_dir, exist_ok=True)

    def _resource(self, digest: re.Digest) -> str:
        prefix = f"{self.instance}/" if self.instance else ""
        return f"{prefix}blobs/{digest.hash}/{digest.size_bytes}"

    def read(self, digest: re.Digest) -> bytes:
        if digest.size_bytes == 0:
            return b""
        data = b"".join(r.data for r in self.bytestream.Read(
            bs.ReadRequest(resource_name=self._resource(digest))))
        if len(data) != digest.size_bytes:
            raise RuntimeError(f"blob {digest.hash}: read {len(data)} of {digest.size_bytes} bytes")
        return data

    def read_message(self, digest: re.Digest, message):
        message.ParseFromString(self.read(digest))
        return message

    def local_copy(self, digest: re.Digest) -> str:
        """A file holding the blob (fetched once per digest)."""
        path = os.path.join(self.blob_dir, f"{digest.hash}_{digest.size_bytes}")
        if not os.path.exists(path):
            tmp = f"{path}.{uuid.uuid4().hex}.part"
            with open(tmp, "wb") as f:
                f.write(self.read(digest))
            os.replace(tmp, path)
        return path

    def upload(self, blobs: dict[str, tuple[re.Digest, bytes]]) -> None:
        """Uploads the blobs the server lacks."""
        if not blobs:
            return
        missing = self.cas.FindMissingBlobs(re.FindMissingBlobsRequest(
            instance_name=self.instance, blob_digests=[d for d, _ in blobs.values()]))
        todo = [blobs[d.hash] for d in missing.missing_blob_digests]
        batch, size = [], 0
        for digest, data in todo:
            if digest.size_bytes > BATCH_LIMIT // 2:
                self._write(digest, data)
                continue
            if size + digest.size_bytes > BATCH_LIMIT:
                self._batch(batch)
                batch, size = [], 0
            batch.append(re.BatchUpdateBlobsRequest.Request(digest=digest, data=data))
            size += digest.size_bytes
        self._batch(batch)

    def _batch(self, requests) -> None:
        if not requests:
            return
        resp = self.cas.BatchUpdateBlobs(re.BatchUpdateBlobsRequest(
            instance_name=self.instance, requests=requests))
        bad = [r for r in resp.responses if r.status.code != code_pb2.OK]
        if bad:
            raise RuntimeError(f"BatchUpdateBlobs failed: {bad[0].status.message}")

    def _write(self, digest: re.Digest, data: bytes) -> None:
        name = (f"{self.instance}/" if self.instance else "") + \
            f"uploads/{uuid.uuid4()}/blobs/{digest.hash}/{digest.size_bytes}"

        def chunks():
            offset = 0
            while True:
                piece = data[offset:offset + CHUNK]
                last = offset + len(piece) >= len(data)
                yield bs.WriteRequest(resource_name=name if offset == 0 else "",
                                      write_offset=offset, finish_write=last, data=piece)
                offset += len(piece)
                if last:
                    return

        self.bytestream.Write(chunks())


def digest_of(data: bytes) -> re.Digest:
    import hashlib

    return re.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def stage_inputs(cas: Cas, root_digest: re.Digest, dest: str) -> None:
    """Materialises the input tree ``root_digest`` at ``dest``."""
    os.makedirs(dest, exist_ok=True)
    directory = cas.read_message(root_digest, re.Directory())
    for f in directory.files:
        path = os.path.join(dest, f.name)
        if f.digest.size_bytes:
            shutil.copyfile(cas.local_copy(f.digest), path)
        else:
            open(path, "wb").close()
        os.chmod(path, 0o755 if f.is_executable else 0o644)
    for link in directory.symlinks:
        os.symlink(link.target, os.path.join(dest, link.name))
    for d in directory.directories:
        stage_inputs(cas, d.digest, os.path.join(dest, d.name))


def _tree_of(path: str, blobs: dict) -> tuple[re.Directory, list[re.Directory]]:
    """The Directory proto of ``path`` and all its descendants (for an output directory)."""
    directory, children = re.Directory(), []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.islink(full):
            directory.symlinks.add(name=name, target=os.readlink(full))
        elif os.path.isdir(full):
            sub, grand = _tree_of(full, blobs)
            data = sub.SerializeToString()
            directory.directories.add(name=name, digest=digest_of(data))
            children += [sub, *grand]
        else:
            with open(full, "rb") as fh:
                data = fh.read()
            d = digest_of(data)
            blobs[d.hash] = (d, data)
            directory.files.add(name=name, digest=d, is_executable=os.access(full, os.X_OK))
    return directory, children


def execute(cas: Cas, action: re.Action, work: str) -> re.ActionResult:
    command = cas.read_message(action.command_digest, re.Command())
    root = os.path.join(work, "exec", uuid.uuid4().hex)
    try:
        stage_inputs(cas, action.input_root_digest, root)
        cwd = os.path.join(root, command.working_directory)
        outputs = list(command.output_files) + list(command.output_directories) + \
            list(command.output_paths)
        for out in outputs:
            os.makedirs(os.path.dirname(os.path.join(cwd, out)) or cwd, exist_ok=True)
        env = {v.name: v.value for v in command.environment_variables}
        timeout = action.timeout.seconds or None
        try:
            proc = subprocess.run(list(command.arguments), cwd=cwd, env=env, capture_output=True,
                                  timeout=timeout)
            exit_code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except FileNotFoundError as e:
            exit_code, stdout, stderr = 127, b"", f"bot: {e}\n".encode()
        blobs: dict[str, tuple[re.Digest, bytes]] = {}
        result = re.ActionResult(exit_code=exit_code)
        for data, field in ((stdout, "stdout_digest"), (stderr, "stderr_digest")):
            d = digest_of(data)
            blobs[d.hash] = (d, data)
            getattr(result, field).CopyFrom(d)
        for out in list(command.output_files) + list(command.output_paths):
            full = os.path.join(cwd, out)
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as fh:
                    data = fh.read()
                d = digest_of(data)
                blobs[d.hash] = (d, data)
                result.output_files.add(path=out, digest=d, is_executable=os.access(full, os.X_OK))
        for out in list(command.output_directories) + list(command.output_paths):
            full = os.path.join(cwd, out)
            if os.path.isdir(full) and not os.path.islink(full):
                root_dir, children = _tree_of(full, blobs)
                tree = re.Tree(root=root_dir, children=children)
                data = tree.SerializeToString()
                d = digest_of(data)
                blobs[d.hash] = (d, data)
                for child in children:
                    cdata = child.SerializeToString()
                    cd = digest_of(cdata)
                    blobs[cd.hash] = (cd, cdata)
                result.output_directories.add(path=out, tree_digest=d)
        cas.upload(blobs)
        log(f"ran {command.arguments[0] if command.arguments else '?'}: exit {exit_code}")
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Bot:
    def __init__(self, args) -> None:
        self.args = args
        self.channel = grpc.insecure_channel(args.server)
        self.bots = bots_pb2_grpc.BotsStub(self.channel)
        self.cas = Cas(self.channel, args.instance, os.path.join(args.work, "blobs"))
        self.stop = threading.Event()

    def _update(self, session: bots_pb2.BotSession) -> bots_pb2.BotSession:
        # The deadline bounds the server's long poll for work (it waits 80% of it,
        # and not at all below 3 s), so the session is refreshed at least that often.
        return self.bots.UpdateBotSession(
            bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
            timeout=max(self.args.keepalive, 4.0))

    def _run_lease(self, session: bots_pb2.BotSession,
                   lease: bots_pb2.Lease) -> bots_pb2.BotSession:
        """Runs one lease; keeps the session alive meanwhile; returns the session
        after reporting the lease COMPLETED."""
        box: dict = {}

        def work():
            try:
                action = re.Action()
                if lease.payload.Is(re.Action.DESCRIPTOR):
                    lease.payload.Unpack(action)
                else:
                    digest = re.Digest()
                    lease.payload.Unpack(digest)
                    action = self.cas.read_message(digest, re.Action())
                box["result"] = execute(self.cas, action, self.args.work)
            except Exception as e:  # reported to the client as the lease's status
                log(f"lease {lease.id} failed: {e!r}")
                box["error"] = e

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        lease.state = ACTIVE
        while thread.is_alive():
            thread.join(self.args.keepalive / 2)
            if thread.is_alive():
                session = self._keep(session, lease)
        lease.state = COMPLETED
        if "error" in box:
            lease.status.CopyFrom(status_pb2.Status(code=code_pb2.INTERNAL,
                                                    message=repr(box["error"])))
        else:
            lease.status.CopyFrom(status_pb2.Status(code=code_pb2.OK))
            lease.result.Pack(box["result"])
        del session.leases[:]
        session.leases.append(lease)
        return self._update(session)

    def _keep(self, session: bots_pb2.BotSession, lease: bots_pb2.Lease) -> bots_pb2.BotSession:
        del session.leases[:]
        session.leases.append(lease)
        try:
            return self._update(session)
        except grpc.RpcError as e:
            log(f"keepalive failed: {e.code()}")
            return session

    def run(self) -> None:
        session = bots_pb2.BotSession(bot_id=self.args.bot_id,
                                      status=bots_pb2.BotStatus.Value("OK"))
        session = self.bots.CreateBotSession(
            bots_pb2.CreateBotSessionRequest(parent=self.args.instance, bot_session=session),
            timeout=self.args.keepalive)
        log(f"session {session.name} created")
        while not self.stop.is_set():
            leases = [le for le in session.leases if le.state in (PENDING, ACTIVE)]
            if leases:
                session = self._run_lease(session, leases[0])
                continue
            del session.leases[:]
            try:
                session = self._update(session)  # long-polls for work
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    log(f"UpdateBotSession: {e.code()} {e.details()}")
                    time.sleep(0.2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="host:port of the Bots service")
    p.add_argument("--instance", default="")
    p.add_argument("--bot-id", required=True, help="stable id: a restarted bot takes over")
    p.add_argument("--work", required=True, help="directory for inputs and blob copies")
    p.add_argument("--keepalive", type=float, default=4.0,
                   help="seconds between session updates (below the server's keepalive timeout)")
    args = p.parse_args(argv)
    bot = Bot(args)
    try:
        bot.run()
    finally:
        bot.channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
