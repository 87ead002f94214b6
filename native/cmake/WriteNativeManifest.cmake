# Writes natives.sha256 beside the installed libraries: one "<sha256>  <file>" line per library, in the
# order they must be loaded (dependencies first). The Java loader extracts the jar's copies into a folder
# keyed by the hash of this manifest, so a changed library never reuses a stale extraction.
set(manifest "")
foreach(library libgomp.so.1 libdnnl.so.3 libodconv.so libodconv_cuda.so)
  set(path "${CMAKE_INSTALL_PREFIX}/${library}")
  if(EXISTS "${path}")
    file(SHA256 "${path}" hash)
    string(APPEND manifest "${hash}  ${library}\n")
  endif()
endforeach()
file(WRITE "${CMAKE_INSTALL_PREFIX}/natives.sha256" "${manifest}")
message(STATUS "Wrote ${CMAKE_INSTALL_PREFIX}/natives.sha256")
