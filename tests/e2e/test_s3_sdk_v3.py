"""S3 through the AWS SDK for JavaScript v3 (issue 5): a string body (checksum in a header) and
a stream of unknown framing (sent aws-chunked with a trailing checksum), read back intact."""
import json
import os
import shutil
import subprocess

import pytest

from nubo_e2e import ROOT

SDK = os.path.join(ROOT, "runtimes", "nodejs", "node_modules", "@aws-sdk", "client-s3")

SCRIPT = """
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } = require(process.argv[2]);
const { Readable } = require('stream');
const c = new S3Client({ endpoint: process.argv[3], region: 'us-east-1', forcePathStyle: true,
                         credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
(async () => {
  await c.send(new CreateBucketCommand({ Bucket: 'sdk-v3' }));
  await c.send(new PutObjectCommand({ Bucket: 'sdk-v3', Key: 'str', Body: 'hello from sdk v3' }));
  const big = Buffer.alloc(200000, 7);
  await c.send(new PutObjectCommand({ Bucket: 'sdk-v3', Key: 'stream', ContentLength: big.length,
      Body: Readable.from([big.subarray(0, 100000), big.subarray(100000)]) }));
  const out = {};
  for (const k of ['str', 'stream']) {
    const r = await c.send(new GetObjectCommand({ Bucket: 'sdk-v3', Key: k }));
    const b = Buffer.from(await r.Body.transformToByteArray());
    out[k] = { length: b.length, encoding: r.ContentEncoding || null,
               same: k === 'str' ? b.toString() === 'hello from sdk v3' : b.equals(big) };
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error('FAIL', e.name, e.message); process.exit(1); });
"""


@pytest.mark.skipif(not os.path.isdir(SDK) or shutil.which("node") is None,
                    reason="the nodejs runtime's SDK is not installed")
def test_put_and_get_with_the_sdk_v3(node, tmp_path):
    script = tmp_path / "s3.cjs"
    script.write_text(SCRIPT)
    p = subprocess.run(["node", str(script), SDK, node.url], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"str": {"length": 17, "encoding": None, "same": True},
                   "stream": {"length": 200000, "encoding": None, "same": True}}
