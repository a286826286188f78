"""Outbound network (issue 3, "outbound traffic follows the function's network setting",
src/runtime/egress.h): a function without VPC subnets reaches the world beyond the node through
the node's NAT, as a Lambda function without a VPC reaches the internet; it cannot reach the node
itself, another instance or 169.254.0.0/16. A function attached to VPC subnets (nubo has no VPCs:
a private subnet without a NAT gateway) reaches only its Runtime API and nubo. `--egress off`
gives every function loopback only.

"The world" here is a network namespace of the test's own, routed from the node over a veth pair
(198.51.100.0/30, TEST-NET-2), with an HTTP server in it that answers with the address it saw."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from nubo_e2e import Node, create, invoke_json, wait_active

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="egress needs root and iproute2")

OUTSIDE_NODE_SIDE = "198.51.100.1"
OUTSIDE = "198.51.100.2"
OUTSIDE_NS = f"nubo-out-{os.getpid()}"

SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("peer=%s" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer((sys.argv[1], 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
'''

PROBE = {"app.py": r'''
import errno, os, socket, time, urllib.request

def handler(event, context):
    out = {"interfaces": [name for _, name in socket.if_nameindex()]}
    try:  # the address the instance sends from (no packet is sent for a UDP connect)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(("198.51.100.2", 9))
        out["address"] = u.getsockname()[0]
    except OSError as e:
        out["address"] = errno.errorcode.get(e.errno, str(e))
    for url in event.get("get", []):
        try:
            out[url] = urllib.request.urlopen(url, timeout=3).read().decode()
        except OSError as e:
            reason = getattr(e, "reason", e)
            out[url] = errno.errorcode.get(getattr(reason, "errno", None) or 0, str(reason))
    for host, port in event.get("connect", []):
        key = "%s:%d" % (host, port)
        started = time.time()
        try:
            if "%" in host:  # an IPv6 link-local address, scoped to eth0
                c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                c.settimeout(3)
                c.connect((host.split("%")[0], port, 0, socket.if_nametoindex("eth0")))
                c.close()
            else:
                socket.create_connection((host, port), timeout=3).close()
            out[key] = "connected"
        except OSError as e:
            out[key] = errno.errorcode.get(e.errno, str(e)) if e.errno else "timeout"
        out[key + " ms"] = (time.time() - started) * 1000
    if event.get("listen"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", event["listen"]))
        s.listen(4)
        s.settimeout(event.get("listen_for", 3))
        try:
            s.accept()[0].close()
            out["accepted"] = True
        except socket.timeout:
            out["accepted"] = False
    return out
'''}


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture(scope="module")
def outside():
    """A network namespace beyond the node, with an HTTP server; yields its URL."""
    ns = OUTSIDE_NS
    link = f"xo{os.getpid() % 100000}"  # not "nb...": those are the instances' links
    sh("ip", "netns", "add", ns)
    server = None
    try:
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", "xin", "netns", ns)
        sh("ip", "addr", "add", OUTSIDE_NODE_SIDE + "/30", "dev", link)
        sh("ip", "link", "set", link, "up")
        sh("ip", "-n", ns, "addr", "add", OUTSIDE + "/30", "dev", "xin")
        sh("ip", "-n", ns, "link", "set", "xin", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", OUTSIDE_NODE_SIDE)
        server = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", SERVER, OUTSIDE],
                                  stdout=subprocess.PIPE)
        port = int(server.stdout.readline())
        yield f"http://{OUTSIDE}:{port}/"
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", link], capture_output=True)


def node_address():
    """An address of the node's own that is not loopback (the route towards the outside)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((OUTSIDE, 9))
    return u.getsockname()[0]


def test_reaches_the_outside_through_nat_but_not_the_node(node, lam, outside):
    create(lam, "out-fn", "python3.12", "app.handler", PROBE, Timeout=20)
    assert "on: outbound network through NAT from 10.213." in node.log()
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(4)
    node_port = listener.getsockname()[1]
    r, out = invoke_json(lam, "out-fn", {
        "get": [outside, f"http://127.0.0.1:{node.port}/_nubo/health"],
        "connect": [[node_address(), node_port], [node_address(), node.port],
                    ["169.254.169.254", 80]]})
    listener.close()
    assert "FunctionError" not in r, out
    assert out["interfaces"] == ["lo", "eth0"]
    assert out["address"].startswith("10.213.")
    # The outside saw the node's address on its link: the instance's was translated.
    assert out[outside] == f"peer={OUTSIDE_NODE_SIDE}"
    # nubo's API is on the instance's own loopback, as before.
    assert json.loads(out[f"http://127.0.0.1:{node.port}/_nubo/health"]) == {"status": "ok"}
    # The node's own services are refused, not accepted, not left to time out.
    for target in ([node_address(), node_port], [node_address(), node.port],
                   ["169.254.169.254", 80]):
        key = "%s:%d" % tuple(target)
        assert out[key] == "ECONNREFUSED", (key, out)
        assert out[key + " ms"] < 1000, out


def link_local_of_node_end(instance_address):
    """The IPv6 link-local address of the node's end of the instance's veth pair (once it is no
    longer tentative)."""
    a = [int(x) for x in instance_address.split(".")]
    node_end = "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3] - 1)
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    name = next(l.split()[1] for l in out.splitlines() if f" {node_end}/31 " in l)
    for _ in range(50):
        six = subprocess.run(["ip", "-o", "-6", "addr", "show", "dev", name, "scope", "link"],
                             capture_output=True, text=True).stdout
        if six and "tentative" not in six:
            return six.split()[3].split("/")[0]
        time.sleep(0.1)
    return None


def test_cannot_reach_the_node_over_ipv6_link_local(lam, outside):
    create(lam, "six-fn", "python3.12", "app.handler", PROBE, Timeout=20)
    _, first = invoke_json(lam, "six-fn", {})
    fe80 = link_local_of_node_end(first["address"])
    if fe80 is None:
        pytest.skip("the node's end of the pair has no IPv6 link-local address here")
    time.sleep(2.5)  # the instance's own link-local address leaves duplicate detection too
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    _, out = invoke_json(lam, "six-fn", {"connect": [[fe80 + "%eth0", port]]})
    listener.close()
    assert out["address"] == first["address"]  # the same instance
    # Rejected by the node's (inet) input guard; the ICMPv6 answer may not make it back before the
    # timeout. Without the guard this connects (checked by hand when it was written).
    assert out[f"{fe80}%eth0:{port}"] in ("ECONNREFUSED", "timeout"), out


def test_cannot_reach_another_instance(lam, outside):
    import threading
    create(lam, "listen-fn", "python3.12", "app.handler", PROBE, Timeout=20)
    create(lam, "knock-fn", "python3.12", "app.handler", PROBE, Timeout=20)
    _, first = invoke_json(lam, "listen-fn", {})
    target = first["address"]  # the warm instance keeps it
    result = {}
    t = threading.Thread(target=lambda: result.update(
        out=invoke_json(lam, "listen-fn", {"listen": 8080, "listen_for": 4})[1]))
    t.start()
    time.sleep(1)
    _, knock = invoke_json(lam, "knock-fn", {"connect": [[target, 8080]]})
    t.join()
    assert knock[f"{target}:8080"] == "ECONNREFUSED", knock
    assert result["out"]["address"] == target and result["out"]["accepted"] is False


def test_nothing_outside_can_connect_to_an_instance(lam, outside):
    import threading
    create(lam, "inbound-fn", "python3.12", "app.handler", PROBE, Timeout=20)
    target = invoke_json(lam, "inbound-fn", {})[1]["address"]
    result = {}
    t = threading.Thread(target=lambda: result.update(
        out=invoke_json(lam, "inbound-fn", {"listen": 8080, "listen_for": 4})[1]))
    t.start()
    time.sleep(1)
    # The outside routes everything through the node (its default route): an instance's address
    # included.
    knock = subprocess.run(
        ["ip", "netns", "exec", OUTSIDE_NS, "python3", "-c",
         "import socket, sys\n"
         "try:\n"
         f"    socket.create_connection(('{target}', 8080), timeout=2).close(); print('connected')\n"
         "except OSError as e:\n"
         "    print(type(e).__name__)\n"], capture_output=True, text=True).stdout.strip()
    t.join()
    assert knock == "ConnectionRefusedError", knock
    assert result["out"]["address"] == target and result["out"]["accepted"] is False


def test_a_vpc_function_has_loopback_only_until_detached(node, lam, outside):
    vpc = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    create(lam, "vpc-fn", "python3.12", "app.handler", PROBE, VpcConfig=vpc, Timeout=20)
    conf = lam.get_function_configuration(FunctionName="vpc-fn")
    assert conf["VpcConfig"]["SubnetIds"] == vpc["SubnetIds"]
    assert conf["VpcConfig"]["SecurityGroupIds"] == vpc["SecurityGroupIds"]
    _, out = invoke_json(lam, "vpc-fn", {
        "get": [outside, f"http://127.0.0.1:{node.port}/_nubo/health"]})
    assert out["interfaces"] == ["lo"]
    assert out[outside] == "ENETUNREACH", out
    assert json.loads(out[f"http://127.0.0.1:{node.port}/_nubo/health"]) == {"status": "ok"}

    lam.update_function_configuration(FunctionName="vpc-fn",
                                      VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
    wait_active(lam, "vpc-fn")
    assert "VpcConfig" not in lam.get_function_configuration(FunctionName="vpc-fn")
    _, out = invoke_json(lam, "vpc-fn", {"get": [outside]})
    assert out[outside] == f"peer={OUTSIDE_NODE_SIDE}", out


def test_too_many_subnets_is_a_validation_error(lam):
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create(lam, "vpc-bad", "python3.12", "app.handler", PROBE,
               VpcConfig={"SubnetIds": [f"subnet-{i}" for i in range(17)]})
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_egress_off_gives_loopback_only(outside):
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    n = Node(d, ["--egress", "off"]).start()
    try:
        lam = n.client("lambda")
        assert "off: outbound network (turned off)" in n.log()
        create(lam, "off-fn", "python3.12", "app.handler", PROBE)
        _, out = invoke_json(lam, "off-fn", {"get": [outside]})
        assert out["interfaces"] == ["lo"]
        assert out[outside] == "ENETUNREACH", out
    finally:
        assert n.stop() == 0
        shutil.rmtree(d, ignore_errors=True)
