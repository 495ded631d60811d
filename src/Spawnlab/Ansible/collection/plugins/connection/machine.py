# Spawnlab's connection to the machines of its labs: Ansible reaches a running machine without SSH, through the
# command Spawnlab gives for entering it (nsenter into all of the machine's namespaces, its user namespace included,
# for a container). Files that Ansible sends land owned by root inside the machine.
from __future__ import annotations

DOCUMENTATION = r"""
name: machine
short_description: Run tasks in a machine of a Spawnlab lab, without SSH
description:
  - Runs commands and copies files in a running machine of a Spawnlab lab by running, on the host, the command
    Spawnlab gives for entering it (C(spawnlab_enter)), followed by the program to run inside.
  - C(spawnlab inventory) sets C(spawnlab_enter) for every running machine; run Ansible as root on the lab's host.
author: Spawnlab
options:
  spawnlab_enter:
    description: The command that runs a program inside the machine, as a list; the program and its arguments follow it.
    type: list
    elements: str
    required: true
    vars:
      - name: spawnlab_enter
  spawnlab_machine:
    description: LAB/MACHINE, named in errors.
    type: str
    default: the machine
    vars:
      - name: spawnlab_machine
"""

import os
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    """Enters a Spawnlab machine for each command; nothing stays open between commands."""

    transport = "spawnlab.lab.machine"
    has_pipelining = True
    default_user = "root"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._enter = None

    def _connect(self):
        if not self._connected:
            enter = self.get_option("spawnlab_enter")
            if not enter:
                raise AnsibleConnectionFailure(
                    "%s is not running (no spawnlab_enter in the inventory): `spawnlab up` starts it, "
                    "`spawnlab inventory` gives a fresh inventory" % self.get_option("spawnlab_machine"))
            self._enter = [to_bytes(a) for a in enter]
            self._connected = True
        return self

    def _run(self, argv, stdin, stdout=subprocess.PIPE):
        display.vvv("ENTER %s: %s" % (self.get_option("spawnlab_machine"), to_native(b" ".join(argv[-3:]))), host=self._play_context.remote_addr)
        try:
            process = subprocess.Popen(self._enter + argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        except OSError as e:
            raise AnsibleConnectionFailure("cannot run %s on the host: %s" % (to_native(self._enter[0]), to_native(e)))
        return process

    def _check_entered(self, returncode, stderr):
        # nsenter says why it could not enter (the machine stopped, its PID 1 is another process now) and exits 1.
        if returncode != 0 and stderr.startswith(b"nsenter: "):
            raise AnsibleConnectionFailure(
                "cannot enter %s: %s; is it still running (`spawnlab ls`)? A fresh inventory (`spawnlab inventory`) "
                "follows a restarted machine" % (self.get_option("spawnlab_machine"), to_native(stderr.strip())))

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        process = self._run([b"/bin/sh", b"-c", to_bytes(cmd)], subprocess.PIPE)
        stdout, stderr = process.communicate(in_data)
        self._check_entered(process.returncode, stderr)
        return process.returncode, stdout, stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        self._connect()
        if not os.path.exists(to_bytes(in_path)):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_native(in_path))
        with open(to_bytes(in_path), "rb") as source:
            process = self._run([b"/bin/sh", b"-c", b'cat > "$1"', b"sh", to_bytes(out_path)], source)
            _, stderr = process.communicate()
        self._check_entered(process.returncode, stderr)
        if process.returncode != 0:
            raise AnsibleError("failed to send %s to %s: %s" % (to_native(in_path), to_native(out_path), to_native(stderr)))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        self._connect()
        with open(to_bytes(out_path), "wb") as target:
            process = self._run([b"cat", b"--", to_bytes(in_path)], subprocess.DEVNULL, stdout=target)
            _, stderr = process.communicate()
        self._check_entered(process.returncode, stderr)
        if process.returncode != 0:
            raise AnsibleError("failed to fetch %s to %s: %s" % (to_native(in_path), to_native(out_path), to_native(stderr)))

    def close(self):
        self._connected = False
