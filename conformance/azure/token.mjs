// Obtains a token from an Entra authority with Microsoft's @azure/identity and prints its
// decoded claims as one JSON line: {"ok": true, "claims": {...}} or
// {"ok": false, "name": ..., "message": ...} (exit status 0 either way; 2 for bad usage).
//
//   node token.mjs <credential> <authority-host> <tenant> <client-id> <scope> [input] [send-chain] [password]
//
// credential: assertion (input = a file holding the assertion, e.g. a Kubernetes token),
//             certificate (input = a PEM file with certificate and key; send-chain = "true"
//             sends x5c; password decrypts an encrypted key), workload (input = the federated token file), secret (input = the
//             secret). Instance discovery is off; trust the authority's CA with
//             NODE_EXTRA_CA_CERTS.
import { readFileSync } from "node:fs";
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";

const [kind, authorityHost, tenantId, clientId, scope, input, sendChain, password] = process.argv.slice(2);
if (!kind || !authorityHost || !tenantId || !clientId || !scope) {
  console.error("usage: token.mjs <credential> <authority-host> <tenant> <client-id> <scope> [input] [send-chain]");
  process.exit(2);
}
const options = { authorityHost, disableInstanceDiscovery: true };

function credential() {
  switch (kind) {
    case "assertion":
      return new ClientAssertionCredential(tenantId, clientId,
        async () => readFileSync(input, "utf8").trim(), options);
    case "certificate":
      return new ClientCertificateCredential(tenantId, clientId,
        { certificatePath: input, certificatePassword: password }, { ...options, sendCertificateChain: sendChain === "true" });
    case "workload":
      return new WorkloadIdentityCredential({ ...options, tenantId, clientId, tokenFilePath: input });
    case "secret":
      return new ClientSecretCredential(tenantId, clientId, input, options);
    default:
      console.error(`unknown credential '${kind}'`);
      process.exit(2);
  }
}

try {
  const token = await credential().getToken(scope);
  const payload = token.token.split(".")[1];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  console.log(JSON.stringify({ ok: true, expiresOnTimestamp: token.expiresOnTimestamp, claims }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: error.name, message: String(error.message) }));
}
