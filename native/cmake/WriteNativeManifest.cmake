# Writes the SHA-256 manifests beside the installed libraries: one "<sha256>  <file>" line per library, in the
# order they must be loaded (dependencies first). natives.sha256 lists the CPU libraries every jar carries;
# libodconv_ort.so is loaded by ONNX Runtime, when a session registers it. natives-cuda.sha256 lists
# libodconv_cuda.so, when built: the CUDA part, packaged in the runnable jar and in the library's "cuda"
# classifier jar, extracted with the rest and loaded by libodconv.so itself, only when a CUDA device is asked
# for. The Java loader checks every extracted file against these hashes and keys its folder by them.
function(write_manifest name)
  set(manifest "")
  foreach(library ${ARGN})
    set(path "${CMAKE_INSTALL_PREFIX}/${library}")
    if(EXISTS "${path}")
      file(SHA256 "${path}" hash)
      string(APPEND manifest "${hash}  ${library}\n")
    endif()
  endforeach()
  if(manifest STREQUAL "")
    file(REMOVE "${CMAKE_INSTALL_PREFIX}/${name}")
  else()
    file(WRITE "${CMAKE_INSTALL_PREFIX}/${name}" "${manifest}")
    message(STATUS "Wrote ${CMAKE_INSTALL_PREFIX}/${name}")
  endif()
endfunction()

# ODCONV_LIBRARY_FILE: libodconv.so.<major>, set by the install step before this script.
write_manifest(natives.sha256 libgomp.so.1 libdnnl.so.3 ${ODCONV_LIBRARY_FILE} libodconv_ort.so)
write_manifest(natives-cuda.sha256 libodconv_cuda.so)
