"""HTTP triggers (issue 5): a function URL and an HTTP API answered by a function, with curl as
the client, through the node's own port."""
import json
import subprocess

from nubo_e2e import create

HANDLER = """
import base64, json
def handler(event, context):
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    if event.get("rawPath", "").endswith("/plain"):
        return {"plain": True}  # the shorthand: any JSON that is no HTTP response
    return {
        "statusCode": 201,
        "headers": {"x-path": event.get("rawPath", event.get("path", "")), "content-type": "application/json"},
        "cookies": ["session=abc"],
        "body": json.dumps({
            "version": event["version"],
            "method": event["requestContext"]["http"]["method"],
            "query": event.get("queryStringParameters"),
            "params": event.get("pathParameters"),
            "body": body,
            "route": event.get("routeKey"),
        }),
    }
"""


def curl(url, host=None, data=None, method=None, headers=None):
    args = ["curl", "-s", "-i", "--max-time", "60"]
    if host:
        args += ["-H", f"Host: {host}"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    if data is not None:
        args += ["-H", "Content-Type: text/plain", "--data-binary", data]
    if method:
        args += ["-X", method]
    out = subprocess.run(args + [url], capture_output=True, check=True).stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    status = int(head.split("\r\n")[0].split()[1])
    headers = {}
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return status, headers, body


def test_function_url_needs_its_permission_and_maps_payload_2_0(node, lam):
    create(lam, "url-fn", "python3.12", "app.handler", {"app.py": HANDLER})
    cfg = lam.create_function_url_config(FunctionName="url-fn", AuthType="NONE")
    url_id = cfg["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    host = f"{url_id}.lambda-url.us-east-1.localhost"
    # AuthType NONE without a resource policy allowing lambda:InvokeFunctionUrl: forbidden.
    status, _, _ = curl(f"{node.url}/hello", host=host)
    assert status == 403
    lam.add_permission(FunctionName="url-fn", StatementId="public-url",
                       Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    status, headers, body = curl(f"{node.url}/hello/world?x=1&x=2&y=z", host=host, data="ping")
    assert status == 201, body
    assert headers.get("x-path") == ["/hello/world"], (headers, body)
    assert "session=abc" in headers["set-cookie"][0]
    got = json.loads(body)
    assert got["version"] == "2.0" and got["method"] == "POST" and got["body"] == "ping"
    assert got["query"] == {"x": "1,2", "y": "z"}
    # The path form, for clients that cannot set a Host header.
    status, headers, body = curl(f"{node.url}/_nubo/url/{url_id}/other")
    assert status == 201 and headers["x-path"] == ["/other"]
    # The shorthand: a plain JSON value becomes a 200 with that body.
    status, _, body = curl(f"{node.url}/_nubo/url/{url_id}/plain")
    assert status == 200 and json.loads(body) == {"plain": True}
    # An unknown URL id.
    status, _, _ = curl(f"{node.url}/x", host="nothere.lambda-url.us-east-1.localhost")
    assert status == 404


def test_http_api_quick_create_routes_to_the_function(node, lam):
    fn = create(lam, "api-fn", "python3.12", "app.handler", {"app.py": HANDLER})
    gw = node.client("apigatewayv2")
    api = gw.create_api(Name="pets", ProtocolType="HTTP", Target=fn["FunctionArn"])
    host = f"{api['ApiId']}.execute-api.us-east-1.localhost"
    status, headers, body = curl(f"{node.url}/pets/7?kind=cat", host=host)
    assert status == 201, body
    got = json.loads(body)
    assert got["route"] == "$default" and got["query"] == {"kind": "cat"}
    assert headers["x-path"] == ["/pets/7"]
    # A route with a path parameter, on its own integration.
    integ = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                  IntegrationUri=fn["FunctionArn"], PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="GET /pets/{id}",
                    Target=f"integrations/{integ['IntegrationId']}")
    status, _, body = curl(f"{node.url}/_nubo/apis/{api['ApiId']}/pets/9")
    assert status == 201, body
    got = json.loads(body)
    assert got["route"] == "GET /pets/{id}" and got["params"] == {"id": "9"}
    status, _, _ = curl(f"{node.url}/anything", host="nope000000.execute-api.us-east-1.localhost")
    assert status == 404


def test_function_url_cors_preflight_and_headers(node, lam):
    create(lam, "cors-fn", "python3.12", "app.handler", {"app.py": HANDLER})
    cfg = lam.create_function_url_config(FunctionName="cors-fn", AuthType="NONE", Cors={
        "AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-token"], "ExposeHeaders": ["x-path"],
        "MaxAge": 600, "AllowCredentials": True})
    lam.add_permission(FunctionName="cors-fn", StatementId="public-url",
                       Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    url_id = cfg["FunctionUrl"].split("//")[1].split(".")[0]
    base = f"{node.url}/_nubo/url/{url_id}"
    # The preflight is answered by Lambda itself: the function is not invoked.
    status, headers, body = curl(f"{base}/items", method="OPTIONS", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 200 and body == ""
    assert headers["access-control-allow-origin"] == ["https://app.example.com"]
    assert headers["access-control-allow-methods"] == ["GET,POST"]
    assert headers["access-control-allow-headers"] == ["content-type,x-token"]
    assert headers["access-control-max-age"] == ["600"]
    assert headers["access-control-allow-credentials"] == ["true"]
    assert "x-path" not in headers
    # A preflight from another origin gets no CORS headers: the browser refuses.
    status, headers, _ = curl(f"{base}/items", method="OPTIONS", headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert status == 200 and "access-control-allow-origin" not in headers
    # The actual request: the function's answer with the CORS headers added.
    status, headers, body = curl(f"{base}/items", data="hi",
                                 headers={"Origin": "https://app.example.com"})
    assert status == 201 and headers["x-path"] == ["/items"]
    assert headers["access-control-allow-origin"] == ["https://app.example.com"]
    assert headers["access-control-expose-headers"] == ["x-path"]
    status, headers, _ = curl(f"{base}/items", headers={"Origin": "https://evil.example.com"})
    assert status == 201 and "access-control-allow-origin" not in headers
