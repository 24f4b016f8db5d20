// Throwaway TLS certificates for registry tests, made with openssl: a CA, and
// server certificates it signs for the names given (IP or DNS).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

export interface TestCa {
  /** The CA certificate (PEM): what --registry-ca is given. */
  cert: string;
  key: string;
  dir: string;
}

export interface ServerCert {
  cert: string;
  key: string;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function makeTestCa(dir: string, name = "bencher-test-ca"): Promise<TestCa> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await execa("openssl", [
    "req", "-x509", ...EC_KEY, "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { cert, key, dir };
}

/** A server certificate signed by `ca` for `names` ("IP:127.0.0.1", "DNS:localhost"). */
export async function issueServerCert(ca: TestCa, file: string, names: string[]): Promise<ServerCert> {
  const key = `${file}.key`;
  const csr = `${file}.csr`;
  const cert = `${file}.crt`;
  const ext = `${file}.ext`;
  await execa("openssl", ["req", ...EC_KEY, "-keyout", key, "-out", csr, "-subj", "/CN=bencher-test-registry"]);
  writeFileSync(ext, `subjectAltName=${names.join(",")}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
  await execa("openssl", ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]);
  return { cert, key };
}
