# hearth_embed(<target> BASE <dir> FILES <relative paths...>): compiles the files into <target> as a
# table readable through core/embedded.hpp, so the installed binary needs nothing beside it (as ninja
# embeds browse.py). The generated source is rebuilt whenever one of the files changes.
function(hearth_embed target)
  cmake_parse_arguments(ARG "" "BASE" "FILES" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_files.cpp")
  set(abs_files "")
  foreach(f IN LISTS ARG_FILES)
    list(APPEND abs_files "${ARG_BASE}/${f}")
  endforeach()
  string(REPLACE ";" "|" joined "${ARG_FILES}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DBASE=${ARG_BASE}" "-DFILES=${joined}" "-DOUT=${out}"
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_script.cmake"
    DEPENDS ${abs_files} "${PROJECT_SOURCE_DIR}/cmake/embed_script.cmake"
    COMMENT "Embedding templates and schemas"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
