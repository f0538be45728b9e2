#!/usr/bin/env bash
# exports: the shared library exports only the malloc API, glibc's __libc_*
# names for it and depot_* names; the core entry points are all there; and
# its thread-local storage uses the initial-exec model only (readelf -d shows
# FLAGS STATIC_TLS when there is TLS; no TLSGD/TLSLD/TLSDESC/DTPMOD
# relocations).
set -u
lib=${1:-build/libdepot.so}
[ -f "$lib" ] || { echo "CHECK failed: $lib missing"; exit 1; }
command -v nm >/dev/null && command -v readelf >/dev/null || { echo "SKIP: nm/readelf missing"; exit 77; }
fail=0
api="malloc free calloc realloc reallocarray aligned_alloc posix_memalign memalign valloc
     pvalloc malloc_usable_size free_sized free_aligned_sized cfree mallopt mallinfo mallinfo2
     malloc_trim malloc_stats malloc_info"
required="malloc free calloc realloc reallocarray aligned_alloc posix_memalign memalign valloc
     pvalloc malloc_usable_size cfree mallopt mallinfo mallinfo2 malloc_trim malloc_stats
     malloc_info __libc_malloc __libc_free __libc_calloc __libc_realloc __libc_memalign
     __libc_valloc __libc_pvalloc depot_stats_get depot_stats_print depot_bins_print
     depot_option_set depot_option_get"

# defined dynamic symbols, without absolute (version node) ones
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u)
echo "exported: $(echo $syms)"
for s in $syms; do
  ok=0
  case "$s" in
    _init|_fini) ok=1 ;;
    depot_*) ok=1 ;;
    __libc_*) for a in $api; do [ "$s" = "__libc_$a" ] && ok=1; done ;;
    *) for a in $api; do [ "$s" = "$a" ] && ok=1; done ;;
  esac
  if [ $ok = 0 ]; then
    echo "CHECK failed: unexpected exported symbol '$s'"
    fail=1
  fi
done
for r in $required; do
  if ! printf '%s\n' $syms | grep -qx "$r"; then
    echo "CHECK failed: '$r' is not exported"
    fail=1
  fi
done
# undefined symbols must not include a malloc of someone else's
und=$(nm -D --undefined-only "$lib" | awk '{print $2}' | sed 's/@.*//')
for a in malloc free calloc realloc; do
  if printf '%s\n' $und | grep -qx "$a"; then
    echo "CHECK failed: $lib imports '$a' (it must define it, not call another)"
    fail=1
  fi
done

# TLS model
relocs=$(readelf -rW "$lib")
if printf '%s\n' "$relocs" | grep -qE 'TLSDESC|TLSGD|TLSLD|DTPMOD|DTPOFF'; then
  echo "CHECK failed: dynamic TLS relocations (general/local dynamic or TLSDESC):"
  printf '%s\n' "$relocs" | grep -E 'TLSDESC|TLSGD|TLSLD|DTPMOD|DTPOFF' | head -5
  fail=1
fi
if readelf -lW "$lib" | grep -q ' TLS '; then
  if ! readelf -dW "$lib" | grep -E 'FLAGS' | grep -q STATIC_TLS; then
    echo "CHECK failed: the library has a TLS segment but readelf -d shows no FLAGS STATIC_TLS"
    fail=1
  else
    echo "TLS: initial-exec (STATIC_TLS)"
  fi
else
  echo "TLS: no TLS segment"
fi
# the text has no TLS model other than initial-exec: __tls_get_addr unused
if nm -D --undefined-only "$lib" | grep -q '__tls_get_addr'; then
  echo "CHECK failed: $lib calls __tls_get_addr (a dynamic TLS model)"
  fail=1
fi
exit $fail
