{
  "targets": [
    {
      "target_name": "fanout",
      "sources": ["native/fanout.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
