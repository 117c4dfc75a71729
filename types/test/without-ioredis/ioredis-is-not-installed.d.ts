// Stands in for ioredis in this folder (see tsconfig.json `paths`): it exports nothing, so types
// that import anything from ioredis fail to compile here, as they would without ioredis.
export {}
