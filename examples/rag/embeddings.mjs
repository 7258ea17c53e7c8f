// LangChain embeddings backed by all-MiniLM-L6-v2 (int8 ONNX) running locally through
// @huggingface/transformers, with remote model downloads switched off: the model must be in
// ./models (npm run fetch-model puts it there). 384 dimensions, unit length.
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { env, pipeline } from '@huggingface/transformers'
import { Embeddings } from '@langchain/core/embeddings'

const MODELS = fileURLToPath(new URL('./models/', import.meta.url))
const MODEL = 'all-MiniLM-L6-v2'

env.allowRemoteModels = false
env.localModelPath = MODELS

export class MiniLMEmbeddings extends Embeddings {
  #extractor
  #batchSize

  constructor({ batchSize = 32 } = {}) {
    super({})
    this.#batchSize = batchSize
  }

  #load() {
    if (!fs.existsSync(new URL(`./models/${MODEL}/onnx/model_quantized.onnx`, import.meta.url))) {
      throw new Error(`the model is not in ${MODELS}${MODEL}: run \`npm run fetch-model\` first`)
    }
    // Mean pooling over the tokens, then L2 normalisation: sentence-transformers' recipe.
    this.#extractor ??= pipeline('feature-extraction', MODEL, { dtype: 'q8' })
    return this.#extractor
  }

  async embedDocuments(texts) {
    const extract = await this.#load()
    const out = []
    for (let i = 0; i < texts.length; i += this.#batchSize) {
      const tensor = await extract(texts.slice(i, i + this.#batchSize), { pooling: 'mean', normalize: true })
      out.push(...tensor.tolist())
    }
    return out
  }

  async embedQuery(text) {
    return (await this.embedDocuments([text]))[0]
  }
}
