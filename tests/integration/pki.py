"""pki — a test PKI, made with the openssl command in a temporary directory
of the test's registry: a CA and certificates it signs, for the TLS tests
(tls:// probes, the CLI's https://).

    certs = Certs(reg)            # a new CA ("heed test CA" unless named)
    certs.ca                      # its certificate (PEM)
    certs.leaf                    # (cert, key): localhost and 127.0.0.1, 10 days
    certs.other                   # (cert, key): other.test only
    certs.expired                 # (cert, key): localhost and 127.0.0.1, 2020
    certs.client("alice")         # (cert, key): a client certificate (clientAuth)

Each Certs is its own CA: a certificate of one does not verify against
another's ca. Python 3 standard library and the openssl command only."""

import os
import shutil

from harness import run

OPENSSL = shutil.which("openssl")

CA_CNF = """
[ca]
default_ca = test
[test]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[leaf]
subjectAltName = DNS:localhost,IP:127.0.0.1
[other]
subjectAltName = DNS:other.test
[client]
extendedKeyUsage = clientAuth
"""


class Certs:
    """The test PKI in a temporary directory."""

    def __init__(self, reg, name="heed test CA"):
        d = self.dir = reg.tempdir(prefix="heed-tls-")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(d=d))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        self.ca = self.path("ca.pem")
        self.ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path("ca.key"),
                  "-out", self.ca, "-days", "30", "-subj", "/CN=" + name)
        self.leaf = self.issue("leaf", "/CN=localhost", "leaf", "-days", "10")
        self.other = self.issue("other", "/CN=other.test", "other", "-days", "30")
        self.expired = self.issue("expired", "/CN=expired.test", "leaf",
                                  "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")

    def path(self, name):
        return os.path.join(self.dir, name)

    def ossl(self, *args):
        run([OPENSSL] + list(args), check=True, timeout=60)

    def issue(self, name, subj, ext, *validity):
        """(cert, key) signed by the CA with extensions section ext."""
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        self.ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", subj)
        self.ossl("ca", "-batch", "-config", self.path("ca.cnf"), "-cert", self.ca,
                  "-keyfile", self.path("ca.key"), "-in", csr, "-out", cert, "-extensions", ext,
                  "-notext", *validity)
        return cert, key

    def client(self, name):
        """(cert, key) of a client certificate for CN name, 10 days."""
        return self.issue("client-" + name, "/CN=" + name, "client", "-days", "10")
