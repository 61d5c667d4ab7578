# Varnish with its built-in VCL in front of the cache-tests origin, as the suite's own Docker image runs it
# (stock default.vcl; default_ttl=0 default_grace=0 default_keep=3600 on the command line). run.sh fills in @ORIGIN@.
vcl 4.1;

backend default {
    .host = "127.0.0.1";
    .port = "@ORIGIN@";
}
