# cmake -DIN=SKELETON -DOUT=HEADER -P id.cmake: the name under which
# bpf.c keeps the program in the BPF filesystem, from the skeleton's hash.
file(SHA256 ${IN} hash)
string(SUBSTRING ${hash} 0 16 hash)
file(WRITE ${OUT} "#define PKGUARD_MAPS_BPF_ID \"maps-${hash}\"\n")
