#!/usr/bin/env python3
"""What the Azure CLI asks of Azure beyond Entra ID, for the benchmarks' az baselines.

`az login` lists the subscriptions and `az acr login -n NAME --expose-token` finds the registry
through Resource Manager (resources of type Microsoft.ContainerRegistry/registries, then the
registry), sends `GET /v2/` to its login server twice (reachability, then the Bearer challenge)
and posts the Entra token to the challenge realm's `/oauth2/exchange`. The sandbox's stand-ins
serve Entra ID and the exchange (which kubecred calls directly) but not those Resource Manager
reads nor the `/v2/` challenge, so this server answers them, on one HTTPS port that is both the
Resource Manager endpoint of the Azure CLI's cloud and the registry's login server, and passes
`/oauth2/exchange` on to the sandbox's ACR stand-in unchanged (its answer is the token az prints).

Usage: azure-front.py PORT CERT KEY ACR_URL ACR_CA SUBSCRIPTION TENANT RESOURCE_GROUP REGISTRY
(REGISTRY: the registry host, e.g. NAME.azurecr.io). Prints `ready` when listening.
"""
import json
import ssl
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key, acr_url, acr_ca, sub, tenant, group, registry = sys.argv[1:10]
name = registry.split(".")[0]
login_server = f"127.0.0.1:{port}"
registry_id = f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/registries/{name}"
acr_context = ssl.create_default_context(cafile=acr_ca)

subscriptions = {"value": [{
    "id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": tenant,
    "displayName": "kubecred-sandbox", "state": "Enabled", "authorizationSource": "RoleBased",
    "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
}]}
resources = {"value": [{"id": registry_id, "name": name, "type": "Microsoft.ContainerRegistry/registries", "location": "westeurope"}]}
registry_resource = {
    "id": registry_id, "name": name, "type": "Microsoft.ContainerRegistry/registries", "location": "westeurope",
    "sku": {"name": "Standard", "tier": "Standard"},
    "properties": {"loginServer": login_server, "adminUserEnabled": False, "provisioningState": "Succeeded"},
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK could hold the body back ~40 ms, a delay real Azure does not add.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def json(self, value):
        self.answer(200, json.dumps(value).encode(), [("Content-Type", "application/json")])

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/").lower()
        if path == "/v2":
            challenge = f'Bearer realm="https://{login_server}/oauth2/token",service="{registry}"'
            self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", challenge), ("Content-Type", "application/json")])
        elif "authorization" not in {k.lower() for k in self.headers.keys()}:
            self.answer(401, b'{"error":{"code":"AuthenticationFailed"}}', [("Content-Type", "application/json")])
        elif path == "/subscriptions":
            self.json(subscriptions)
        elif path == f"/subscriptions/{sub}/resources".lower():
            self.json(resources)
        elif path == registry_id.lower():
            self.json(registry_resource)
        else:
            self.answer(404, b'{"error":{"code":"ResourceNotFound"}}', [("Content-Type", "application/json")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.split("?")[0] != "/oauth2/exchange":
            return self.answer(404)
        request = urllib.request.Request(acr_url.rstrip("/") + "/oauth2/exchange", data=body, method="POST",
                                         headers={"Content-Type": self.headers.get("Content-Type", "application/x-www-form-urlencoded")})
        try:
            with urllib.request.urlopen(request, context=acr_context) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
        self.answer(status, answer, [("Content-Type", "application/json")])


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
server.socket = tls.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
