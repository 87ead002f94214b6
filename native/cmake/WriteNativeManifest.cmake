# Writes natives.sha256 beside the installed libraries: one "<sha256>  <file>" line per library, in the
# order they must be loaded (dependencies first). libodconv_ort.so is loaded by ONNX Runtime, when a session
# registers it. libodconv_cuda.so, when built, comes last: it is
# extracted with the rest but loaded by libodconv.so itself, only when a CUDA device is asked for. The Java loader extracts the jar's copies into a folder
# keyed by the hash of this manifest, so a changed library never reuses a stale extraction.
set(manifest "")
foreach(library libgomp.so.1 libdnnl.so.3 libodconv.so libodconv_ort.so libodconv_cuda.so)
  set(path "${CMAKE_INSTALL_PREFIX}/${library}")
  if(EXISTS "${path}")
    file(SHA256 "${path}" hash)
    string(APPEND manifest "${hash}  ${library}\n")
  endif()
endforeach()
file(WRITE "${CMAKE_INSTALL_PREFIX}/natives.sha256" "${manifest}")
message(STATUS "Wrote ${CMAKE_INSTALL_PREFIX}/natives.sha256")
