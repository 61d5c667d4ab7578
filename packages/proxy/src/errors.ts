import { errorBrand, TierCacheError } from '@tiercache/core'

/** A command line or config file the proxy cannot start with (the bin exits with status 2). */
export class ConfigError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.proxy.ConfigError')

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'TIERCACHE_PROXY_CONFIG', options)
    this.name = 'ConfigError'
  }
}
